// Runs the Qt Quick Test cases in components/ against the app's QML modules,
// linked in statically like in the app.

#include "message_text.h"
#include "voice_player.h"

#include <QQmlEngine>
#include <QtQml/qqmlextensionplugin.h>
#include <QtQuickTest>

Q_IMPORT_QML_PLUGIN(Kith_ThemePlugin)
Q_IMPORT_QML_PLUGIN(Kith_LoginPlugin)
Q_IMPORT_QML_PLUGIN(Kith_ConversationsPlugin)
Q_IMPORT_QML_PLUGIN(Kith_ChatPlugin)
Q_IMPORT_QML_PLUGIN(Kith_GroupsPlugin)
Q_IMPORT_QML_PLUGIN(Kith_SearchPlugin)
Q_IMPORT_QML_PLUGIN(Kith_SettingsPlugin)
Q_IMPORT_QML_PLUGIN(Kith_AppPlugin)

class Setup : public QObject
{
    Q_OBJECT
public slots:
    // As the app does: the media backend before any player.
    void applicationAvailable()
    {
        kith::app::chooseMediaBackend();
        kith::app::MessageText::preferColourEmoji();
    }
    void qmlEngineAvailable(QQmlEngine *engine)
    {
        // Where qt_add_qml_module puts the modules; Qt 6.4 does not look there itself.
        engine->addImportPath(QStringLiteral("qrc:/qt/qml"));
    }
};

QUICK_TEST_MAIN_WITH_SETUP(qml_components, Setup)

#include "tst_qml_components.moc"
