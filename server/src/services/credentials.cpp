#include "credentials.h"

#include <sodium.h>

namespace kith::server {

namespace {
constexpr size_t kTokenBytes = 32; // 256 bits: not guessable, not worth brute forcing
constexpr size_t kTokenHashBytes = crypto_generichash_BYTES;
} // namespace

bool initCrypto()
{
    return sodium_init() >= 0;
}

Result<QByteArray> hashPassword(QByteArrayView passwordUtf8, Argon2Params params)
{
    char out[crypto_pwhash_STRBYTES];
    const int rc = crypto_pwhash_str_alg(
        out, passwordUtf8.data(), static_cast<unsigned long long>(passwordUtf8.size()), params.ops,
        size_t(params.memoryKib) * 1024, crypto_pwhash_ALG_ARGON2ID13);
    if (rc != 0)
        return makeError(v1::INTERNAL, QStringLiteral("Password hashing failed (out of memory?)"));
    return QByteArray(out);
}

bool verifyPassword(const QByteArray &storedHash, QByteArrayView passwordUtf8)
{
    if (storedHash.isEmpty() || storedHash.size() >= qsizetype(crypto_pwhash_STRBYTES))
        return false;
    // QByteArray keeps its data NUL-terminated, as crypto_pwhash_str_verify needs.
    return crypto_pwhash_str_verify(storedHash.constData(), passwordUtf8.data(),
                                    static_cast<unsigned long long>(passwordUtf8.size())) == 0;
}

bool needsRehash(const QByteArray &storedHash, Argon2Params params)
{
    if (storedHash.isEmpty() || storedHash.size() >= qsizetype(crypto_pwhash_STRBYTES))
        return false;
    return crypto_pwhash_str_needs_rehash(storedHash.constData(), params.ops,
                                          size_t(params.memoryKib) * 1024) == 1;
}

QByteArray newDeviceToken()
{
    QByteArray raw(qsizetype(kTokenBytes), Qt::Uninitialized);
    randombytes_buf(raw.data(), kTokenBytes);
    return raw.toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals);
}

QByteArray hashDeviceToken(QByteArrayView token)
{
    QByteArray digest(qsizetype(kTokenHashBytes), Qt::Uninitialized);
    crypto_generichash(reinterpret_cast<unsigned char *>(digest.data()), kTokenHashBytes,
                       reinterpret_cast<const unsigned char *>(token.data()),
                       static_cast<unsigned long long>(token.size()), nullptr, 0);
    return digest;
}

} // namespace kith::server
