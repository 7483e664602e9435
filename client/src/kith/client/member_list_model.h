#pragma once
// MemberListModel: the members of one group with role and presence, read from
// LocalStore and refreshed from the server when the conversation is set.
// Created by QML (MemberListModel { client: KithClient; conversationId: … }).

#include "kith/client/local_store.h"

#include <QAbstractListModel>
#include <QPointer>
#include <QtQml/qqmlregistration.h>

namespace kith::client {

class KithClient;

class MemberListModel : public QAbstractListModel
{
    Q_OBJECT
    QML_ELEMENT
    Q_PROPERTY(kith::client::KithClient *client READ client WRITE setClient NOTIFY clientChanged)
    Q_PROPERTY(QString conversationId READ conversationId WRITE setConversationId NOTIFY
                   conversationIdChanged)
    Q_PROPERTY(int count READ rowCount NOTIFY countChanged)
public:
    enum Roles {
        UserIdRole = Qt::UserRole + 1, // qint64
        UsernameRole,                  // QString
        DisplayNameRole,               // QString
        RoleRole,                      // int: kith::v1::Role (1 member, 2 admin, 3 owner)
        RoleNameRole,                  // QString: "member", "admin", "owner"
        OnlineRole,                    // bool
        JoinedRole,                    // QDateTime
        IsMeRole,                      // bool
        AvatarUrlRole,                 // QUrl: the picture as a local file (empty: none or not yet)
        AvatarColorRole,               // int: 0 from the id, n: palette entry n - 1
        LastRole
    };
    Q_ENUM(Roles)

    explicit MemberListModel(QObject *parent = nullptr);
    MemberListModel(KithClient *client, const QString &conversationId, QObject *parent = nullptr);

    [[nodiscard]] KithClient *client() const { return m_client; }
    void setClient(KithClient *client);
    [[nodiscard]] QString conversationId() const { return m_conversationId; }
    void setConversationId(const QString &conversationId);

    [[nodiscard]] int rowCount(const QModelIndex &parent = {}) const override;
    [[nodiscard]] QVariant data(const QModelIndex &index, int role) const override;
    [[nodiscard]] QHash<int, QByteArray> roleNames() const override;

signals:
    void clientChanged();
    void conversationIdChanged();
    void countChanged();

private:
    void reload();
    void refresh();

    QPointer<KithClient> m_client;
    QString m_conversationId;
    QList<MemberRow> m_members;
    QList<QMetaObject::Connection> m_connections;
};

} // namespace kith::client
