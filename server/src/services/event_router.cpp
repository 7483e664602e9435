#include "event_router.h"

#include "kith/protocol.h"
#include "membership_cache.h"
#include "push_router.h"

namespace kith::server {

EventRouter::EventRouter(PushRouter &router, MembershipCache &members)
    : m_router(router)
    , m_members(members)
{
    m_router.setMembershipListener(
        [this](const MembershipChanged &event) { m_members.forget(event); });
}

EventRouter::~EventRouter()
{
    m_router.setMembershipListener({});
}

void EventRouter::messageCommitted(MessageCommitted event)
{
    // A direct chat exists from its first message on: its pair are contacts now.
    if (event.message.seq() == 1 && event.recipients.size() == 2 &&
        event.message.conversation_id().starts_with("d:")) {
        m_members.directChatStarted(event.recipients[0], event.recipients[1]);
        m_router.membershipChanged(MembershipChanged{{}, event.recipients});
    }
    v1::Envelope push;
    *push.mutable_message()->mutable_message() = std::move(event.message);
    m_router.pushToUsers(event.recipients, push, event.origin);
}

void EventRouter::groupChanged(const GroupChanged &event)
{
    const GroupChange &change = event.change;
    m_members.groupChanged(change);
    m_router.membershipChanged(
        MembershipChanged{toQString(change.state.id()), change.memberIds + change.removedIds});
    // Who gained access learns of the group first (each sees it with their
    // own role and read state), then everyone gets the event as a message.
    for (const auto &[userId, view] : event.views) {
        v1::Envelope push;
        *push.mutable_conversation()->mutable_state() = view;
        m_router.pushToUsers(QList<quint64>{userId}, push, event.origin);
    }
    if (!change.removedIds.isEmpty()) {
        v1::Envelope push;
        push.mutable_conversation_removed()->set_conversation_id(change.state.id());
        m_router.pushToUsers(change.removedIds, push);
    }
    // The acting connection gets the event too: its answer carries no seq.
    v1::Envelope push;
    *push.mutable_message()->mutable_message() = change.event;
    m_router.pushToUsers(change.memberIds, push);
}

void EventRouter::readMoved(const ReadMoved &event)
{
    v1::Envelope push;
    auto *read = push.mutable_read();
    read->set_conversation_id(toStd(event.conversationId));
    read->set_user_id(event.userId);
    read->set_read_seq(event.readSeq);
    read->set_unread_count(event.unreadCount);
    m_router.pushToUsers(QList<quint64>{event.userId}, push, event.origin);
    if (event.peer != 0) {
        read->clear_unread_count();
        m_router.pushToUsers(QList<quint64>{event.peer}, push);
    }
}

void EventRouter::chatStateChanged(const ChatStateChanged &event)
{
    if (const quint64 blocked = event.state.blocked_user_id()) {
        // Who blocks `blocked` changed: here at once, on the other nodes
        // through the router (which tells them to read it again).
        m_members.blockChanged(blocked);
        m_router.membershipChanged(MembershipChanged{{}, {blocked}});
    }
    v1::Envelope push;
    *push.mutable_chat_state_push()->mutable_state() = event.state;
    m_router.pushToUsers(QList<quint64>{event.userId}, push, event.origin);
}

void EventRouter::typingChanged(const TypingChanged &event)
{
    v1::Envelope push;
    auto *typing = push.mutable_typing_push();
    typing->set_conversation_id(event.conversationId);
    typing->set_user_id(event.userId);
    typing->set_typing(event.typing);
    m_router.pushToUsers(event.recipients, push);
}

int EventRouter::presenceChanged(const PresenceChanged &event)
{
    v1::Envelope push;
    auto *presence = push.mutable_presence();
    presence->set_user_id(event.userId);
    presence->set_online(event.online);
    presence->set_last_seen_ms(event.atMs);
    return m_router.pushToUsers(event.contacts, push);
}

void EventRouter::profileChanged(const ProfileChanged &event)
{
    v1::Envelope push;
    *push.mutable_profile()->mutable_user() = event.user;
    m_router.pushToUsers(event.contacts, push);
    m_router.pushToUsers(QList<quint64>{event.user.id()}, push, event.origin);
}

void EventRouter::deviceRevoked(const DeviceRevoked &event)
{
    m_router.closeDevice(event.deviceId, v1::TOKEN_INVALID,
                         QStringLiteral("This device was logged out or revoked"), event.origin);
}

int EventRouter::accountDisabled(const AccountDisabled &event)
{
    return m_router.closeUser(event.userId, v1::ACCOUNT_DISABLED,
                              QStringLiteral("This account was disabled by the admin"));
}

} // namespace kith::server
