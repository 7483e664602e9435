#include "kith/protocol.h"

#include <QDateTime>

namespace kith {

QByteArray encodeEnvelope(const v1::Envelope &envelope)
{
    QByteArray bytes;
    bytes.resize(qsizetype(envelope.ByteSizeLong()));
    envelope.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t *>(bytes.data()));
    return bytes;
}

std::optional<v1::Envelope> decodeEnvelope(QByteArrayView bytes)
{
    v1::Envelope envelope;
    if (!envelope.ParseFromArray(bytes.data(), int(bytes.size())))
        return std::nullopt;
    return envelope;
}

v1::Envelope errorEnvelope(quint32 requestId, v1::ErrorCode code, const QString &message,
                           quint32 retryAfterMs)
{
    v1::Envelope envelope;
    envelope.set_request_id(requestId);
    auto *error = envelope.mutable_error();
    error->set_code(code);
    error->set_message(message.toStdString());
    error->set_retry_after_ms(retryAfterMs);
    return envelope;
}

const char *bodyName(v1::Envelope::BodyCase body)
{
    const auto *field = v1::Envelope::descriptor()->FindFieldByNumber(int(body));
    return field ? field->name().c_str() : "none";
}

const char *errorCodeName(v1::ErrorCode code)
{
    return v1::ErrorCode_Name(code).c_str();
}

qint64 nowMs()
{
    return QDateTime::currentMSecsSinceEpoch();
}

} // namespace kith
