#include "bus_messages.h"

#include <QDataStream>
#include <QIODevice>

namespace kith::server::cluster {

namespace {
// Kind bytes of the binary messages; the directory's text starts with u, d or x.
constexpr char kPush = 'P';
constexpr char kClose = 'C';
constexpr char kMembership = 'M';
// Bounds on what a message may claim, so a bad one cannot make us allocate much.
constexpr quint32 kMaxUsers = 1u << 20;
constexpr quint32 kMaxBytes = 64u << 20;

void writeRef(QDataStream &out, ConnectionRef ref)
{
    out << ref.node << ref.connection;
}

bool readRef(QDataStream &in, ConnectionRef *ref)
{
    in >> ref->node >> ref->connection;
    return in.status() == QDataStream::Ok;
}

void writeIds(QDataStream &out, const QList<quint64> &ids)
{
    out << quint32(ids.size());
    for (quint64 id : ids)
        out << id;
}

bool readIds(QDataStream &in, QList<quint64> *ids)
{
    quint32 count = 0;
    in >> count;
    if (in.status() != QDataStream::Ok || count > kMaxUsers ||
        qint64(count) * 8 > in.device()->bytesAvailable())
        return false;
    ids->reserve(qsizetype(count));
    for (quint32 i = 0; i < count; ++i) {
        quint64 id = 0;
        in >> id;
        ids->append(id);
    }
    return in.status() == QDataStream::Ok;
}

void writeBytes(QDataStream &out, const QByteArray &bytes)
{
    out << quint32(bytes.size());
    out.writeRawData(bytes.constData(), int(bytes.size()));
}

bool readBytes(QDataStream &in, QByteArray *bytes)
{
    quint32 size = 0;
    in >> size;
    if (in.status() != QDataStream::Ok || size > kMaxBytes ||
        qint64(size) > in.device()->bytesAvailable())
        return false;
    bytes->resize(qsizetype(size));
    return in.readRawData(bytes->data(), int(size)) == int(size);
}

template<class Body> QByteArray binary(char kind, quint32 from, Body body)
{
    QByteArray bytes(1, kind);
    {
        QDataStream out(&bytes, QIODevice::WriteOnly | QIODevice::Append);
        out.setVersion(QDataStream::Qt_6_4);
        out << from;
        body(out);
    }
    return bytes;
}

std::optional<DirectoryDelta> decodeDelta(const QByteArray &payload)
{
    DirectoryDelta delta;
    if (payload.startsWith('x')) {
        bool ok = false;
        delta.what = DirectoryDelta::What::NodeGone;
        delta.node = payload.mid(1).toUInt(&ok);
        if (!ok || delta.node == 0)
            return std::nullopt;
        return delta;
    }
    if (payload.size() < 5)
        return std::nullopt;
    const char kind = payload.at(0);
    const char sign = payload.at(1);
    if ((kind != 'u' && kind != 'd') || (sign != '+' && sign != '-'))
        return std::nullopt;
    const qsizetype colon = payload.indexOf(':', 2);
    if (colon < 0)
        return std::nullopt;
    bool nodeOk = false;
    bool idOk = false;
    delta.node = payload.mid(2, colon - 2).toUInt(&nodeOk);
    delta.id = payload.mid(colon + 1).toULongLong(&idOk);
    if (!nodeOk || !idOk || delta.node == 0 || delta.id == 0)
        return std::nullopt;
    if (kind == 'u')
        delta.what =
            sign == '+' ? DirectoryDelta::What::UserOnline : DirectoryDelta::What::UserOffline;
    else
        delta.what =
            sign == '+' ? DirectoryDelta::What::DeviceOnline : DirectoryDelta::What::DeviceOffline;
    return delta;
}
} // namespace

namespace names {
QByteArray nodeChannel(quint32 node)
{
    return QByteArrayLiteral("kith:to:") + QByteArray::number(node);
}
} // namespace names

QByteArray encode(const PushMessage &message)
{
    return binary(kPush, message.from, [&](QDataStream &out) {
        writeRef(out, message.except);
        writeIds(out, message.users);
        writeBytes(out, message.envelope);
    });
}

QByteArray encode(const CloseMessage &message)
{
    return binary(kClose, message.from, [&](QDataStream &out) {
        out << quint8(message.device ? 1 : 0) << message.id << qint32(message.code);
        writeBytes(out, message.text.toUtf8());
        writeRef(out, message.except);
    });
}

QByteArray encode(const MembershipMessage &message)
{
    return binary(kMembership, message.from, [&](QDataStream &out) {
        out << quint8(message.change.everything ? 1 : 0);
        writeBytes(out, message.change.groupId.toUtf8());
        writeIds(out, message.change.users);
    });
}

QByteArray encode(const DirectoryDelta &delta)
{
    if (delta.what == DirectoryDelta::What::NodeGone)
        return QByteArrayLiteral("x") + QByteArray::number(delta.node);
    const bool user = delta.what == DirectoryDelta::What::UserOnline ||
                      delta.what == DirectoryDelta::What::UserOffline;
    const bool online = delta.what == DirectoryDelta::What::UserOnline ||
                        delta.what == DirectoryDelta::What::DeviceOnline;
    return QByteArray(1, user ? 'u' : 'd') + (online ? '+' : '-') + QByteArray::number(delta.node) +
           ':' + QByteArray::number(delta.id);
}

std::optional<BusMessage> decode(const QByteArray &payload)
{
    if (payload.isEmpty())
        return std::nullopt;
    const char kind = payload.at(0);
    if (kind == 'u' || kind == 'd' || kind == 'x') {
        if (auto delta = decodeDelta(payload))
            return BusMessage(*delta);
        return std::nullopt;
    }
    QDataStream in(payload);
    in.setVersion(QDataStream::Qt_6_4);
    in.skipRawData(1);
    quint32 from = 0;
    in >> from;
    if (in.status() != QDataStream::Ok || from == 0)
        return std::nullopt;
    std::optional<BusMessage> decoded;
    if (kind == kPush) {
        PushMessage push;
        push.from = from;
        if (readRef(in, &push.except) && readIds(in, &push.users) && readBytes(in, &push.envelope))
            decoded = std::move(push);
    } else if (kind == kClose) {
        CloseMessage close;
        close.from = from;
        quint8 device = 0;
        qint32 code = 0;
        QByteArray text;
        in >> device >> close.id >> code;
        if (in.status() == QDataStream::Ok && readBytes(in, &text) && readRef(in, &close.except) &&
            v1::ErrorCode_IsValid(code) && device <= 1) {
            close.device = device == 1;
            close.code = v1::ErrorCode(code);
            close.text = QString::fromUtf8(text);
            decoded = std::move(close);
        }
    } else if (kind == kMembership) {
        MembershipMessage membership;
        membership.from = from;
        quint8 everything = 0;
        QByteArray group;
        in >> everything;
        if (in.status() == QDataStream::Ok && everything <= 1 && readBytes(in, &group) &&
            readIds(in, &membership.change.users)) {
            membership.change.everything = everything == 1;
            membership.change.groupId = QString::fromUtf8(group);
            decoded = std::move(membership);
        }
    }
    // Trailing bytes mean a message we do not understand.
    if (decoded && !in.atEnd())
        return std::nullopt;
    return decoded;
}

quint32 sourceOf(const BusMessage &message)
{
    return std::visit(
        [](const auto &m) -> quint32 {
            if constexpr (std::is_same_v<std::decay_t<decltype(m)>, DirectoryDelta>)
                return m.node;
            else
                return m.from;
        },
        message);
}

} // namespace kith::server::cluster
