// kith-cli: a headless Kith client for scripts and bots, on the same library
// as the app. It keeps its own cache and session under the platform's app-data
// folder (so XDG_DATA_HOME moves it); a stored session means --password is
// needed only once. Failures exit non-zero with one line on stderr.

#include "kith/client/connection.h"
#include "kith/client/file_transfer.h"
#include "kith/client/kith_client.h"
#include "kith/client/local_store.h"
#include "kith/client/outbox.h"
#include "kith/client/sync_engine.h"
#include "kith/content.h"
#include "kith/conversation_id.h"
#include "kith/fingerprint.h"
#include "kith/message_id.h"
#include "kith/protocol.h"

#include "image_reading.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDateTime>
#include <QFile>
#include <QImageReader>
#include <QLoggingCategory>
#include <QSettings>
#include <QTextStream>

#include <cstdio>
#include <functional>
#include <memory>
#include <optional>

using namespace kith;
using namespace kith::client;

namespace {

constexpr auto kUsage = R"(commands:
  register NAME PASSWORD      create an account (and keep its session)
  send PEER TEXT              send one message (PEER: user name, group name or id);
                              "@name" of a member mentions them
  send PEER --stdin           send one message per line of standard input
  send-file PEER PATH         send a file, an image with its size and thumbnail (progress on
                              stderr; prints the message's seq); --voice-note MS: as a voice
                              note MS milliseconds long
  download PEER SEQ [OUTPUT]  save the file of message SEQ (--group ID: of a group)
  history PEER                print a conversation, oldest first, after syncing
                              (--seqs: each line starts with #SEQ)
  edit PEER SEQ TEXT          edit your message SEQ
  delete PEER SEQ             delete message SEQ for everyone (yours; any, as a group admin)
  react PEER SEQ EMOJI        add EMOJI to message SEQ, or take yours back
  pin PEER SEQ                pin message SEQ for everyone in the chat (unpin: take it off)
  pins PEER                   print the pinned messages, newest pin first
  hide PEER SEQ               delete message SEQ for you (on all your devices)
  mute PEER [HOURS]           mute the chat for HOURS, or until unmuted (unmute: lift it)
  archive PEER                archive the chat (unarchive: bring it back)
  chat-state PEER             print whether the chat is muted and archived
  block USER                  block USER (unblock: lift it); blocked: list whom you block
  avatar PATH                 make your profile picture from an image (a 256 px square);
                              avatar-remove: remove it
  avatar-color N              your avatar colour: 0 from your id, 1..16 a palette entry
  group-avatar GROUP PATH     make the group's picture from an image (admins and owners);
                              group-avatar-remove GROUP: remove it
  group-avatar-color GROUP N  the group's avatar colour: 0 from its id, 1..16 a palette entry
  users [QUERY]               search the server's directory (user and display names;
                              everyone without a query), 100 at a time (--all: all)
  tail                        print incoming messages as they arrive
  sync                        bring the local cache up to date
  chats                       list your conversations: unread messages and mentions
  groups                      list your groups
  group create NAME MEMBER... create a group
  group add GROUP USER        add a member
  group remove GROUP USER     remove a member)";

QString oneLine(QString text)
{
    text.replace(u'\\', QStringLiteral("\\\\"));
    text.replace(u'\n', QStringLiteral("\\n"));
    text.replace(u'\r', QStringLiteral("\\r"));
    return text;
}

class Cli : public QObject
{
public:
    Cli(QUrl server, QString user, QString password, QStringList args, bool readStdin,
        bool withSeqs, QByteArray trustedFingerprint, QString group = {})
        : m_group(std::move(group))
        , m_server(std::move(server))
        , m_user(std::move(user))
        , m_password(std::move(password))
        , m_args(std::move(args))
        , m_readStdin(readStdin)
        , m_withSeqs(withSeqs)
        , m_trustedFingerprint(std::move(trustedFingerprint))
        , m_out(stdout)
    {
        m_client.setClientName(QStringLiteral("kith-cli"));
    }

    void setAllPages(bool all) { m_allPages = all; }
    void setVoiceNoteMs(std::optional<quint32> ms) { m_voiceNoteMs = ms; }

    void start()
    {
        const QString command = m_args.value(0);
        Connection *connection = m_client.connection();
        connect(&m_client, &KithClient::authFailed, this,
                [this](const QString &message) { fail(message); });
        connect(&m_client, &KithClient::operationFailed, this,
                [this](const QString &message) { fail(message); });
        connect(
            connection, &Connection::trustRequired, this,
            [this](const QByteArray &offered, bool changed) { onTrustRequired(offered, changed); });
        connect(connection, &Connection::stateChanged, this, [this, connection] {
            if (connection->state() == Connection::State::WaitingToRetry && !m_keepRetrying)
                fail(connection->lastError().isEmpty() ? QStringLiteral("Connection lost")
                                                       : connection->lastError());
        });

        if (command == QLatin1String("register")) {
            if (m_args.size() != 3)
                return fail(QStringLiteral("usage: register NAME PASSWORD"));
            connect(connection, &Connection::authenticated, this, [this](const v1::AuthOk &ok) {
                m_out << "registered " << toQString(ok.user().username()) << " (user id "
                      << ok.user().id() << ")\n";
                finish();
            });
            m_client.registerAccount(m_server, m_args.at(1), m_args.at(2));
            return;
        }
        if (m_user.isEmpty()) {
            QSettings index(m_client.dataDirectory() + QStringLiteral("/session.ini"),
                            QSettings::IniFormat);
            if (QUrl(index.value(QStringLiteral("last/server")).toString()) == m_server)
                m_user = index.value(QStringLiteral("last/username")).toString();
        }
        if (m_user.isEmpty())
            return fail(QStringLiteral("No saved session for %1: pass --user NAME --password PW")
                            .arg(m_server.toString()));

        connect(m_client.syncEngine(), &SyncEngine::synced, this, [this] {
            if (!m_ran) {
                m_ran = true;
                run();
            }
        });
        connect(m_client.syncEngine(), &SyncEngine::syncFailed, this, [this](const QString &e) {
            if (!m_ran)
                fail(QStringLiteral("Sync failed: %1").arg(e));
        });
        if (!m_password.isEmpty()) {
            m_client.login(m_server, m_user, m_password);
        } else if (!m_client.openAccount(m_server, m_user)) {
            // openAccount reported why through operationFailed.
            if (!m_done)
                fail(QStringLiteral("No saved session for %1: pass --password").arg(m_user));
        }
    }

private:
    // The server's certificate is self-signed and not (or no longer) the one
    // pinned: go on only with --trust-fingerprint naming exactly this one.
    void onTrustRequired(const QByteArray &offered, bool changed)
    {
        const QString shown = fingerprintDisplay(offered);
        if (m_trustedFingerprint.isEmpty()) {
            if (changed)
                return fail(
                    QStringLiteral("The server's key changed: it now shows fingerprint %1, not "
                                   "the one trusted before. Refusing to connect (this can be "
                                   "someone in between). If your admin made a new key, check the "
                                   "new fingerprint with them and run again with "
                                   "--trust-fingerprint '%2'")
                        .arg(shown, fingerprintHex(offered)));
            return fail(QStringLiteral("The server's certificate is self-signed, fingerprint %1. "
                                       "Compare this with what your admin printed (kithd "
                                       "fingerprint) and run again with --trust-fingerprint "
                                       "'%2'")
                            .arg(shown, fingerprintHex(offered)));
        }
        if (m_trustedFingerprint != offered)
            return fail(QStringLiteral("Fingerprint mismatch: the server shows %1, not the %2 "
                                       "given with --trust-fingerprint. Refusing to connect.")
                            .arg(shown, fingerprintHex(m_trustedFingerprint)));
        if (!m_client.trustServer(fingerprintHex(offered)))
            fail(QStringLiteral("Cannot store the trusted fingerprint"));
    }

    void run()
    {
        const QString command = m_args.value(0);
        if (command == QLatin1String("send"))
            return send();
        if (command == QLatin1String("send-file"))
            return sendFile();
        if (command == QLatin1String("download"))
            return download();
        if (command == QLatin1String("history"))
            return history();
        if (command == QLatin1String("edit") || command == QLatin1String("delete") ||
            command == QLatin1String("react") || command == QLatin1String("pin") ||
            command == QLatin1String("unpin"))
            return operate(command);
        if (command == QLatin1String("pins"))
            return pins();
        if (command == QLatin1String("hide") || command == QLatin1String("mute") ||
            command == QLatin1String("unmute") || command == QLatin1String("archive") ||
            command == QLatin1String("unarchive"))
            return changeChatState(command);
        if (command == QLatin1String("chat-state"))
            return chatState();
        if (command == QLatin1String("block") || command == QLatin1String("unblock"))
            return block(command == QLatin1String("block"));
        if (command == QLatin1String("blocked"))
            return blocked();
        if (command == QLatin1String("avatar") || command == QLatin1String("avatar-remove") ||
            command == QLatin1String("avatar-color"))
            return avatar(command);
        if (command == QLatin1String("group-avatar") ||
            command == QLatin1String("group-avatar-remove") ||
            command == QLatin1String("group-avatar-color"))
            return groupAvatar(command);
        if (command == QLatin1String("users"))
            return users();
        if (command == QLatin1String("chats"))
            return chats();
        if (command == QLatin1String("tail"))
            return tail();
        if (command == QLatin1String("sync"))
            return syncSummary();
        if (command == QLatin1String("groups"))
            return groups();
        if (command == QLatin1String("group"))
            return group();
        fail(QStringLiteral("Unknown command %1 (see --help)").arg(command));
    }

    // PEER: a conversation id, the name of one of your groups, or a user name.
    void resolvePeer(const QString &peer, std::function<void(QString)> done)
    {
        if (parseConversationId(peer))
            return done(peer);
        QString match;
        for (const auto &row : m_client.store()->conversations()) {
            if (row.kind == v1::GROUP && row.title == peer) {
                if (!match.isEmpty())
                    return fail(
                        QStringLiteral("More than one group is named %1: use its id").arg(peer));
                match = row.id;
            }
        }
        if (!match.isEmpty())
            return done(match);
        m_client.lookupUser(peer, [this, done = std::move(done)](Result<v1::User> user) {
            if (!user)
                return fail(user.error().message);
            done(m_client.directConversationId(qint64(user->id())));
        });
    }

    void send()
    {
        if (m_readStdin ? m_args.size() != 2 : m_args.size() != 3)
            return fail(QStringLiteral("usage: send PEER TEXT, or send PEER --stdin"));
        resolvePeer(m_args.at(1), [this](const QString &conversationId) {
            QStringList texts;
            if (m_readStdin) {
                QFile in;
                if (!in.open(stdin, QIODevice::ReadOnly))
                    return fail(QStringLiteral("Cannot read standard input"));
                while (!in.atEnd()) {
                    QString text = QString::fromUtf8(in.readLine());
                    while (text.endsWith(u'\n') || text.endsWith(u'\r'))
                        text.chop(1);
                    if (!text.trimmed().isEmpty())
                        texts << text;
                }
            } else {
                texts << m_args.at(2);
            }
            const bool names = std::any_of(texts.cbegin(), texts.cend(),
                                           [](const QString &text) { return text.contains(u'@'); });
            if (!names || !conversationId.startsWith(u'g'))
                return queueTexts(conversationId, texts);
            // "@name" mentions the members: the group's current ones, asked for first.
            v1::Envelope env;
            env.mutable_list_members()->set_conversation_id(toStd(conversationId));
            m_client.connection()->request(
                env, [this, conversationId, texts](Result<v1::Envelope> answer) {
                    if (!answer)
                        return fail(answer.error().message);
                    if (answer->body_case() != v1::Envelope::kMemberList)
                        return fail(QStringLiteral("Unexpected answer"));
                    const auto &list = answer->member_list().members();
                    if (auto kept = m_client.store()->replaceMembers(
                            conversationId, QList<v1::Member>(list.begin(), list.end()));
                        !kept)
                        return fail(kept.error().message);
                    queueTexts(conversationId, texts);
                });
        });
    }

    void queueTexts(const QString &conversationId, const QStringList &texts)
    {
        Outbox *outbox = m_client.outbox();
        connect(outbox, &Outbox::sendFailed, this,
                [this](const QString &, const QString &, const QString &error) { fail(error); });
        connect(outbox, &Outbox::idle, this, [this] { finish(); });
        for (const QString &text : texts) {
            v1::Content content;
            content.mutable_text()->set_body(toStd(text));
            for (const v1::Mention &mention : m_client.mentionsIn(conversationId, text))
                *content.add_mentions() = mention;
            auto queued = outbox->enqueue(conversationId, content);
            if (!queued)
                return fail(queued.error().message);
        }
        if (outbox->isIdle())
            finish();
    }

    void chats()
    {
        // Every conversation: id, title (a direct chat: the peer), unread
        // messages, unread mentions of you.
        for (const auto &row : m_client.store()->conversations()) {
            const QString title =
                row.kind == v1::GROUP ? row.title : m_client.displayName(qint64(row.peerUserId));
            m_out << row.id << '\t' << title << '\t' << row.unreadCount << " unread\t"
                  << row.unreadMentions << " mentions\n";
        }
        finish();
    }

    void operate(const QString &command)
    {
        const bool bare = command == QLatin1String("delete") || command == QLatin1String("pin") ||
                          command == QLatin1String("unpin");
        const int wanted = bare ? 3 : 4;
        bool seqOk = false;
        const qint64 seq = m_args.value(2).toLongLong(&seqOk);
        if (m_args.size() != wanted || !seqOk || seq <= 0)
            return fail(bare ? QStringLiteral("usage: %1 PEER SEQ").arg(command)
                             : QStringLiteral("usage: %1 PEER SEQ %2")
                                   .arg(command, command == QLatin1String("edit")
                                                     ? QStringLiteral("TEXT")
                                                     : QStringLiteral("EMOJI")));
        resolvePeer(m_args.at(1), [this, command, seq](const QString &conversationId) {
            Outbox *outbox = m_client.outbox();
            // A refusal drops the op and says why through operationFailed.
            connect(outbox, &Outbox::idle, this, [this] { finish(); });
            QString queued;
            if (command == QLatin1String("edit"))
                queued = m_client.editMessage(conversationId, seq, m_args.at(3));
            else if (command == QLatin1String("delete"))
                queued = m_client.deleteMessage(conversationId, seq);
            else if (command == QLatin1String("pin") || command == QLatin1String("unpin"))
                queued = m_client.pinMessage(conversationId, seq, command == QLatin1String("pin"));
            else
                queued = m_client.toggleReaction(conversationId, seq, m_args.at(3));
            if (queued.isEmpty())
                return; // operationFailed said why
            if (outbox->isIdle())
                finish();
        });
    }

    void pins()
    {
        if (m_args.size() != 2)
            return fail(QStringLiteral("usage: pins PEER"));
        resolvePeer(m_args.at(1), [this](const QString &conversationId) {
            for (const auto &m : m_client.store()->pinnedMessages(conversationId))
                m_out << line(m) << '\n';
            finish();
        });
    }

    void changeChatState(const QString &command)
    {
        const bool withSeq = command == QLatin1String("hide");
        const bool mute = command == QLatin1String("mute");
        bool numberOk = false;
        const double number = m_args.value(2).toDouble(&numberOk);
        if (withSeq ? (m_args.size() != 3 || !numberOk || number < 1)
            : mute  ? (m_args.size() > 3 || (m_args.size() == 3 && (!numberOk || number <= 0)))
                    : m_args.size() != 2)
            return fail(withSeq ? QStringLiteral("usage: hide PEER SEQ")
                        : mute  ? QStringLiteral("usage: mute PEER [HOURS]")
                                : QStringLiteral("usage: %1 PEER").arg(command));
        v1::SetChatStateRequest change;
        if (withSeq)
            change.set_hide_seq(m_args.at(2).toULongLong());
        else if (mute)
            change.set_mute_until_ms(m_args.size() == 3 ? QDateTime::currentMSecsSinceEpoch() +
                                                              qint64(number * 3600 * 1000)
                                                        : kMutedForever);
        else if (command == QLatin1String("unmute"))
            change.set_mute_until_ms(0);
        else
            change.set_archived(command == QLatin1String("archive"));
        resolvePeer(m_args.at(1), [this, change](const QString &conversationId) {
            m_client.setChatState(conversationId, change, [this](Status status) {
                if (!status)
                    return fail(status.error().message);
                finish();
            });
        });
    }

    void block(bool blocking)
    {
        if (m_args.size() != 2)
            return fail(QStringLiteral("usage: %1 USER").arg(m_args.at(0)));
        m_client.lookupUser(m_args.at(1), [this, blocking](Result<v1::User> user) {
            if (!user)
                return fail(user.error().message);
            m_client.setBlocked(user->id(), blocking, [this](Status status) {
                if (!status)
                    return fail(status.error().message);
                finish();
            });
        });
    }

    void avatar(const QString &command)
    {
        bool isNumber = false;
        const int color = m_args.value(1).toInt(&isNumber);
        const bool remove = command == QLatin1String("avatar-remove");
        const bool setColor = command == QLatin1String("avatar-color");
        if (m_args.size() != (remove ? 1 : 2) || (setColor && !isNumber))
            return fail(QStringLiteral("usage: avatar PATH, avatar-remove or avatar-color N"));
        // The answer to this request is the next profile change.
        connect(&m_client, &KithClient::profileChanged, this, [this] { finish(); });
        if (remove)
            m_client.removeAvatarPicture();
        else if (setColor)
            m_client.setAvatarColor(color);
        else
            m_client.setAvatarPicture(m_args.at(1));
    }

    void groupAvatar(const QString &command)
    {
        bool isNumber = false;
        const int color = m_args.value(2).toInt(&isNumber);
        const bool remove = command == QLatin1String("group-avatar-remove");
        const bool setColor = command == QLatin1String("group-avatar-color");
        if (m_args.size() != (remove ? 2 : 3) || (setColor && !isNumber))
            return fail(QStringLiteral("usage: group-avatar GROUP PATH, group-avatar-remove GROUP "
                                       "or group-avatar-color GROUP N"));
        resolvePeer(m_args.at(1), [this, remove, setColor, color](const QString &conversationId) {
            if (!conversationId.startsWith(u'g'))
                return fail(QStringLiteral("%1 is not a group").arg(m_args.at(1)));
            connect(&m_client, &KithClient::groupAvatarSet, this, [this] { finish(); });
            if (remove)
                m_client.removeGroupPicture(conversationId);
            else if (setColor)
                m_client.setGroupColor(conversationId, color);
            else
                m_client.setGroupPicture(conversationId, m_args.at(2));
        });
    }

    void users()
    {
        if (m_args.size() > 2)
            return fail(QStringLiteral("usage: users [QUERY] [--all]"));
        usersPage({});
    }

    // One page of the directory (100 people); with --all, every page after it.
    void usersPage(const std::string &after)
    {
        v1::Envelope env;
        env.mutable_search_users()->set_query(toStd(m_args.value(1)));
        env.mutable_search_users()->set_limit(100);
        env.mutable_search_users()->set_page_after(after);
        m_client.connection()->request(env, [this](Result<v1::Envelope> answer) {
            if (!answer)
                return fail(answer.error().message);
            if (answer->body_case() != v1::Envelope::kUserList)
                return fail(QStringLiteral("Unexpected answer"));
            const v1::UserList &list = answer->user_list();
            for (const v1::User &user : list.users())
                m_out << toQString(user.username()) << ' ' << toQString(user.display_name())
                      << '\n';
            if (list.has_more() && m_allPages)
                return usersPage(list.next_page());
            if (list.has_more())
                std::fprintf(stderr, "kith-cli: more people match: --all lists them all\n");
            finish();
        });
    }

    void blocked()
    {
        if (m_args.size() != 1)
            return fail(QStringLiteral("usage: blocked"));
        const QList<quint64> users = m_client.store()->blockedUsers();
        m_client.syncEngine()->resolveUsers(users);
        for (quint64 id : users) {
            const auto user = m_client.store()->user(id);
            m_out << (user ? user->username : QString::number(id)) << '\n';
        }
        finish();
    }

    void chatState()
    {
        if (m_args.size() != 2)
            return fail(QStringLiteral("usage: chat-state PEER"));
        resolvePeer(m_args.at(1), [this](const QString &conversationId) {
            const auto row = m_client.store()->conversation(conversationId);
            if (!row)
                return fail(QStringLiteral("No such conversation"));
            QString muted = QStringLiteral("no");
            if (row->mutedUntilMs == kMutedForever)
                muted = QStringLiteral("until unmuted");
            else if (row->isMutedAt(QDateTime::currentMSecsSinceEpoch()))
                muted =
                    QStringLiteral("until ") + QDateTime::fromMSecsSinceEpoch(row->mutedUntilMs)
                                                   .toString(QStringLiteral("yyyy-MM-dd HH:mm:ss"));
            m_out << "muted: " << muted << "\narchived: " << (row->archived ? "yes" : "no") << '\n';
            finish();
        });
    }

    void showProgress(qint64 done, qint64 total)
    {
        std::fprintf(stderr, "\r%lld / %lld bytes (%d%%)", static_cast<long long>(done),
                     static_cast<long long>(total), total > 0 ? int(done * 100 / total) : 100);
        std::fflush(stderr);
    }

    void sendFile()
    {
        if (m_args.size() != 3)
            return fail(QStringLiteral("usage: send-file PEER PATH"));
        resolvePeer(m_args.at(1), [this](const QString &conversationId) {
            // An image goes with its size and a thumbnail, as the app sends
            // it, so the receiving bubble has its shape before the download.
            QSize imageSize;
            QByteArray thumbnail;
            const bool image =
                images::inspectImage(m_args.at(2), imageSize, thumbnail) && !imageSize.isEmpty();
            m_transfer =
                std::make_unique<FileTransfer>(m_client.connection(), m_client.sessionToken());
            connect(m_transfer.get(), &FileTransfer::progress, this, &Cli::showProgress);
            m_transfer->upload(m_args.at(2), [this, conversationId, image, imageSize,
                                              thumbnail](Result<v1::FileRef> file) {
                std::fputc('\n', stderr);
                if (!file)
                    return fail(file.error().message);
                if (m_voiceNoteMs) {
                    file->set_voice_note(true);
                    file->set_duration_ms(*m_voiceNoteMs);
                }
                if (image) {
                    file->set_width(quint32(imageSize.width()));
                    file->set_height(quint32(imageSize.height()));
                    if (!thumbnail.isEmpty())
                        file->set_thumbnail(thumbnail.toStdString());
                }
                v1::Envelope envelope;
                v1::SendMessageRequest *send = envelope.mutable_send();
                send->set_conversation_id(toStd(conversationId));
                send->set_client_msg_id(toStd(newClientMessageId()));
                *send->mutable_content()->mutable_file() = *file;
                m_client.connection()->request(envelope, [this](Result<v1::Envelope> answer) {
                    if (!answer)
                        return fail(answer.error().message);
                    if (answer->has_error())
                        return fail(toQString(answer->error().message()));
                    m_out << answer->send_ack().seq() << '\n';
                    finish();
                });
            });
        });
    }

    void download()
    {
        // download PEER SEQ [OUTPUT], or download SEQ [OUTPUT] with --group ID.
        const int first = m_group.isEmpty() ? 2 : 1;
        if (m_args.size() < first + 1 || m_args.size() > first + 2)
            return fail(QStringLiteral("usage: download PEER SEQ [OUTPUT], or download --group "
                                       "ID SEQ [OUTPUT]"));
        bool ok = false;
        const quint64 seq = m_args.at(first).toULongLong(&ok);
        if (!ok || seq == 0)
            return fail(
                QStringLiteral("SEQ must be a message's number, not %1").arg(m_args.at(first)));
        const QString output = m_args.value(first + 1);
        const auto fetch = [this, seq, output](const QString &conversationId) {
            v1::Envelope pull;
            pull.mutable_pull()->set_conversation_id(toStd(conversationId));
            pull.mutable_pull()->set_direction(v1::PullRequest::FORWARD);
            pull.mutable_pull()->set_from_seq(seq);
            pull.mutable_pull()->set_to_seq(seq);
            pull.mutable_pull()->set_limit(1);
            m_client.connection()->request(pull, [this, seq, output](Result<v1::Envelope> answer) {
                if (!answer)
                    return fail(answer.error().message);
                if (answer->has_error())
                    return fail(toQString(answer->error().message()));
                const auto &messages = answer->pull_response().messages();
                if (messages.empty() || messages[0].seq() != seq)
                    return fail(QStringLiteral("No message %1 there").arg(seq));
                if (!messages[0].content().has_file())
                    return fail(QStringLiteral("Message %1 carries no file").arg(seq));
                const v1::FileRef &file = messages[0].content().file();
                // The sender's name is never a path here: only its safe form, in this folder.
                const QString path =
                    output.isEmpty() ? safeLocalFileName(toQString(file.name())) : output;
                m_transfer =
                    std::make_unique<FileTransfer>(m_client.connection(), m_client.sessionToken());
                connect(m_transfer.get(), &FileTransfer::progress, this, &Cli::showProgress);
                m_transfer->download(file, path, [this, path](Status status) {
                    std::fputc('\n', stderr);
                    if (!status)
                        return fail(status.error().message);
                    m_out << path << '\n';
                    finish();
                });
            });
        };
        if (!m_group.isEmpty()) {
            bool isNumber = false;
            const quint64 id = m_group.toULongLong(&isNumber);
            if (!isNumber)
                return fail(QStringLiteral("--group takes a group's id"));
            return fetch(groupConversationId(id));
        }
        resolvePeer(m_args.at(1), fetch);
    }

    QString line(const StoredMessage &m)
    {
        const QString time = QDateTime::fromMSecsSinceEpoch(m.serverTimeMs)
                                 .toString(QStringLiteral("yyyy-MM-dd HH:mm:ss"));
        const QString seq = m_withSeqs ? QStringLiteral("#%1 ").arg(m.seq) : QString();
        if (m.content.kind_case() == v1::Content::kSystem)
            return QStringLiteral("%1[%2] * %3").arg(seq, time, oneLine(m.text()));
        if (m.content.kind_case() == v1::Content::kDeleted)
            return QStringLiteral("%1[%2] %3: (message deleted)")
                .arg(seq, time, m_client.displayName(qint64(m.senderUserId)));
        QString text = oneLine(m.text());
        if (m.content.edited_ms() != 0)
            text += QStringLiteral(" (edited)");
        QStringList reactions;
        for (const v1::ReactionCount &r : m.content.reactions())
            reactions << QStringLiteral("%1 %2").arg(toQString(r.emoji())).arg(r.user_ids_size());
        if (!reactions.isEmpty())
            text += QStringLiteral(" [") + reactions.join(QStringLiteral(", ")) + u']';
        if (m.content.pinned_ms() != 0)
            text += QStringLiteral(" (pinned)");
        return QStringLiteral("%1[%2] %3: %4")
            .arg(seq, time, m_client.displayName(qint64(m.senderUserId)), text);
    }

    void history()
    {
        if (m_args.size() != 2)
            return fail(QStringLiteral("usage: history PEER"));
        resolvePeer(m_args.at(1), [this](const QString &conversationId) {
            // Show what the server has even if this device never opened the chat.
            LocalStore *store = m_client.store();
            quint64 after = 0;
            for (;;) {
                const auto page = store->messagesAfter(conversationId, after, 500);
                for (const auto &m : page)
                    m_out << line(m) << '\n';
                if (page.size() < 500)
                    break;
                after = page.last().seq;
            }
            finish();
        });
    }

    void tail()
    {
        m_keepRetrying = true;
        m_out << "listening\n";
        m_out.flush();
        // Whatever reaches the store from others: pushes, and pulls after a
        // gap or a reconnect; printed in arrival order once the sender's name is known.
        LocalStore *store = m_client.store();
        connect(store, &LocalStore::messagesStored, this,
                [this, store](const QString &conversationId, const QList<quint64> &seqs) {
                    for (quint64 seq : seqs)
                        if (const auto m = store->message(conversationId, seq);
                            m && m->senderUserId != store->myUserId() && !isOperation(m->content))
                            m_tailQueue.append(*m);
                    printTail();
                });
    }

    void printTail()
    {
        LocalStore *store = m_client.store();
        while (!m_tailQueue.isEmpty()) {
            const StoredMessage &m = m_tailQueue.first();
            if (m.senderUserId != 0 && !store->user(m.senderUserId)) {
                if (m_resolvingSender)
                    return;
                m_resolvingSender = true;
                v1::Envelope env;
                env.mutable_get_profile()->set_user_id(m.senderUserId);
                m_client.connection()->request(env, [this, store](Result<v1::Envelope> answer) {
                    m_resolvingSender = false;
                    if (answer && answer->body_case() == v1::Envelope::kUserProfile)
                        (void)store->upsertUser(answer->user_profile().user());
                    else if (!m_tailQueue.isEmpty())
                        m_tailQueue.first().senderUserId = 0; // print it without a name
                    printTail();
                });
                return;
            }
            const auto row = store->conversation(m.conversationId);
            const QString where =
                row && row->kind == v1::GROUP ? QStringLiteral("#") + row->title + u' ' : QString();
            m_out << where << line(m) << '\n';
            m_tailQueue.removeFirst();
        }
        m_out.flush();
    }

    void syncSummary()
    {
        LocalStore *store = m_client.store();
        const auto rows = store->conversations();
        qint64 messages = 0;
        for (const auto &row : rows)
            messages += store->messageCount(row.id);
        m_out << "synced " << rows.size() << " conversations, " << messages << " messages\n";
        finish();
    }

    void groups()
    {
        for (const auto &row : m_client.store()->conversations())
            if (row.kind == v1::GROUP)
                m_out << row.id << '\t' << row.title << '\t' << row.memberCount << " members\n";
        finish();
    }

    void group()
    {
        const QString sub = m_args.value(1);
        if (sub == QLatin1String("create")) {
            if (m_args.size() < 3)
                return fail(QStringLiteral("usage: group create NAME MEMBER..."));
            const QString name = m_args.at(2);
            m_client.lookupUsers(m_args.mid(3), [this, name](Result<QList<quint64>> ids) {
                if (!ids)
                    return fail(ids.error().message);
                m_client.createGroup(name, *ids, [this](Result<QString> id) {
                    if (!id)
                        return fail(id.error().message);
                    m_out << *id << '\n';
                    finish();
                });
            });
            return;
        }
        if ((sub != QLatin1String("add") && sub != QLatin1String("remove")) || m_args.size() != 4)
            return fail(QStringLiteral("usage: group add|remove GROUP USER"));
        resolvePeer(m_args.at(2), [this, sub](const QString &conversationId) {
            if (!conversationId.startsWith(u'g'))
                return fail(QStringLiteral("%1 is not a group").arg(m_args.at(2)));
            m_client.lookupUser(m_args.at(3), [this, sub, conversationId](Result<v1::User> user) {
                if (!user)
                    return fail(user.error().message);
                v1::Envelope env;
                if (sub == QLatin1String("add")) {
                    env.mutable_add_members()->set_conversation_id(toStd(conversationId));
                    env.mutable_add_members()->add_user_ids(user->id());
                } else {
                    env.mutable_remove_member()->set_conversation_id(toStd(conversationId));
                    env.mutable_remove_member()->set_user_id(user->id());
                }
                m_client.requestOk(env, [this](Status done) {
                    if (!done)
                        return fail(done.error().message);
                    finish();
                });
            });
        });
    }

    void finish()
    {
        if (m_done)
            return;
        m_done = true;
        m_out.flush();
        QCoreApplication::exit(0);
    }

    void fail(const QString &message)
    {
        if (m_done)
            return;
        m_done = true;
        m_out.flush();
        std::fprintf(stderr, "kith-cli: %s\n", qPrintable(message.simplified()));
        QCoreApplication::exit(1);
    }

    QString m_group;
    std::optional<quint32> m_voiceNoteMs;
    std::unique_ptr<FileTransfer> m_transfer;
    KithClient m_client;
    QUrl m_server;
    QString m_user;
    QString m_password;
    QStringList m_args;
    bool m_readStdin = false;
    bool m_withSeqs = false;
    bool m_allPages = false;         // users --all
    QByteArray m_trustedFingerprint; // --trust-fingerprint, parsed
    bool m_keepRetrying = false;
    QList<StoredMessage> m_tailQueue;
    bool m_resolvingSender = false;
    bool m_ran = false;
    bool m_done = false;
    QTextStream m_out;
};

} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QImageReader::setAllocationLimit(kith::images::kImageAllocationLimitMiB);
    KithClient::setAvatarEncoder(&kith::images::avatarImage);
    QCoreApplication::setApplicationName(QStringLiteral("kith-cli"));
    QCoreApplication::setOrganizationName(QStringLiteral("kith"));
    QCoreApplication::setApplicationVersion(QStringLiteral("0.1.0"));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("A headless Kith client.\n\n") +
                                     QString::fromLatin1(kUsage));
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption serverOption(
        QStringLiteral("server"),
        QStringLiteral("Server address (default %1).").arg(KithClient::kDefaultServer.toString()),
        QStringLiteral("URL"), KithClient::kDefaultServer.toString());
    const QCommandLineOption userOption(QStringLiteral("user"),
                                        QStringLiteral("Account (default: the last one used)."),
                                        QStringLiteral("NAME"));
    const QCommandLineOption passwordOption(QStringLiteral("password"),
                                            QStringLiteral("Log in with this password (once)."),
                                            QStringLiteral("PW"));
    const QCommandLineOption stdinOption(QStringLiteral("stdin"),
                                         QStringLiteral("send: one message per input line."));
    const QCommandLineOption seqsOption(QStringLiteral("seqs"),
                                        QStringLiteral("history: start each line with #SEQ."));
    const QCommandLineOption trustOption(
        QStringLiteral("trust-fingerprint"),
        QStringLiteral("Trust the server's self-signed certificate if its SHA-256 fingerprint is "
                       "this one (as `kithd fingerprint` prints it), and remember it for the "
                       "account; needed the first time and after the server's key changed."),
        QStringLiteral("FP"));
    const QCommandLineOption groupOption(QStringLiteral("group"),
                                         QStringLiteral("download: from the group with this id."),
                                         QStringLiteral("ID"));
    const QCommandLineOption allOption(QStringLiteral("all"),
                                       QStringLiteral("users: every page of the answer."));
    const QCommandLineOption voiceNoteOption(
        QStringLiteral("voice-note"),
        QStringLiteral("send-file: send it as a voice note this many milliseconds long."),
        QStringLiteral("MS"));
    parser.addOptions({serverOption, userOption, passwordOption, stdinOption, trustOption,
                       groupOption, seqsOption, allOption, voiceNoteOption});
    parser.addPositionalArgument(QStringLiteral("command"), QStringLiteral("See above."));
    parser.process(app);

    const QStringList args = parser.positionalArguments();
    const QStringList commands{QStringLiteral("register"),
                               QStringLiteral("send"),
                               QStringLiteral("history"),
                               QStringLiteral("tail"),
                               QStringLiteral("sync"),
                               QStringLiteral("groups"),
                               QStringLiteral("group"),
                               QStringLiteral("send-file"),
                               QStringLiteral("download"),
                               QStringLiteral("edit"),
                               QStringLiteral("delete"),
                               QStringLiteral("react"),
                               QStringLiteral("pin"),
                               QStringLiteral("unpin"),
                               QStringLiteral("pins"),
                               QStringLiteral("hide"),
                               QStringLiteral("mute"),
                               QStringLiteral("unmute"),
                               QStringLiteral("archive"),
                               QStringLiteral("unarchive"),
                               QStringLiteral("chat-state"),
                               QStringLiteral("block"),
                               QStringLiteral("unblock"),
                               QStringLiteral("blocked"),
                               QStringLiteral("avatar"),
                               QStringLiteral("avatar-remove"),
                               QStringLiteral("avatar-color"),
                               QStringLiteral("group-avatar"),
                               QStringLiteral("group-avatar-remove"),
                               QStringLiteral("group-avatar-color"),
                               QStringLiteral("users"),
                               QStringLiteral("chats")};
    if (args.isEmpty() || !commands.contains(args.first())) {
        std::fprintf(stderr, "kith-cli: %s (see --help)\n",
                     args.isEmpty()
                         ? "no command given"
                         : qPrintable(QStringLiteral("unknown command ") + args.first()));
        return 2;
    }
    // The library's progress lines are for debugging, not for scripts'
    // stderr (QT_LOGGING_RULES still turns them on).
    QLoggingCategory::setFilterRules(QStringLiteral("kith.client*.info=false"));
    const QUrl server(parser.value(serverOption));
    if (!server.isValid() ||
        (server.scheme() != QLatin1String("ws") && server.scheme() != QLatin1String("wss"))) {
        std::fprintf(stderr, "kith-cli: the server address must be ws://HOST:PORT/ or wss://…\n");
        return 2;
    }
    QByteArray trusted;
    if (parser.isSet(trustOption)) {
        trusted = parseFingerprint(parser.value(trustOption));
        if (trusted.isEmpty()) {
            std::fprintf(stderr, "kith-cli: --trust-fingerprint wants the 64 hex digits of a "
                                 "SHA-256 fingerprint (spaces and colons allowed)\n");
            return 2;
        }
    }
    Cli cli(server, parser.value(userOption), parser.value(passwordOption), args,
            parser.isSet(stdinOption), parser.isSet(seqsOption), trusted,
            parser.value(groupOption));
    cli.setAllPages(parser.isSet(allOption));
    if (parser.isSet(voiceNoteOption)) {
        bool isNumber = false;
        const qulonglong ms = parser.value(voiceNoteOption).toULongLong(&isNumber);
        if (!isNumber || ms > 24ULL * 3600 * 1000) {
            std::fprintf(stderr, "kith-cli: --voice-note wants the length in milliseconds, "
                                 "at most a day\n");
            return 2;
        }
        cli.setVoiceNoteMs(quint32(ms));
    }
    QMetaObject::invokeMethod(
        &cli, [&cli] { cli.start(); }, Qt::QueuedConnection);
    return app.exec();
}
