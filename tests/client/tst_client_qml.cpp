// The declarative registration the app relies on: "import Kith.Client" gives
// the KithClient singleton, its conversation list and user search, and the
// creatable MessageListModel and MemberListModel — in a plain QQmlEngine, no GUI.
#include "kith/client/kith_client.h"
#include "kith/client/message_list_model.h"

#include <QQmlComponent>
#include <QQmlEngine>
#include <QStandardPaths>
#include <QTest>
#include <QtQml/qqmlextensionplugin.h>

Q_IMPORT_QML_PLUGIN(Kith_ClientPlugin)

class TestClientQml : public QObject
{
    Q_OBJECT
private slots:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

    void moduleRegistersFacadeAndModels()
    {
        QQmlEngine engine;
        engine.addImportPath(QStringLiteral("qrc:/qt/qml"));
        QQmlComponent component(&engine);
        component.setData(R"(
import QtQml
import Kith.Client

QtObject {
    property QtObject client: KithClient
    property bool signedOut: KithClient.connectionState === KithClient.SignedOut
    property int conversationCount: KithClient.conversations.count
    property int searchCount: KithClient.userSearch.count
    property MessageListModel messages: MessageListModel {
        client: KithClient
        conversationId: "d:1:2"
    }
    property MemberListModel members: MemberListModel {
        client: KithClient
        conversationId: "g:1"
    }
    property int sendStatusPending: MessageListModel.Pending
}
)",
                          QUrl(QStringLiteral("qrc:/test.qml")));
        std::unique_ptr<QObject> root(component.create());
        QVERIFY2(root, qPrintable(component.errorString()));
        auto *client =
            qobject_cast<kith::client::KithClient *>(root->property("client").value<QObject *>());
        QVERIFY(client);
        QVERIFY(root->property("signedOut").toBool());
        QCOMPARE(root->property("conversationCount").toInt(), 0);
        QCOMPARE(root->property("sendStatusPending").toInt(),
                 int(kith::client::MessageListModel::Pending));
        auto *messages = root->property("messages").value<kith::client::MessageListModel *>();
        QVERIFY(messages);
        // The models were handed the engine's one singleton instance.
        QCOMPARE(messages->client(), client);
    }
};

QTEST_GUILESS_MAIN(TestClientQml)
#include "tst_client_qml.moc"
