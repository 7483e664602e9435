#pragma once
// Password hashing (Argon2id) and per-device tokens, with libsodium. Used by
// AuthService (through PasswordHasher, off the event loop) and by the admin
// command line directly.

#include "kith/result.h"

#include <QByteArray>
#include <QByteArrayView>

namespace kith::server {

struct Argon2Params
{
    // OWASP's minimum for Argon2id: 19 MiB of memory, 2 passes.
    static constexpr quint32 kMinMemoryKib = 19 * 1024;
    static constexpr quint32 kMinOps = 2;

    quint32 memoryKib = kMinMemoryKib;
    quint32 ops = kMinOps;
};

// Initialises libsodium; safe to call more than once and from any thread.
[[nodiscard]] bool initCrypto();

// crypto_pwhash_str output (self-describing: algorithm, parameters, salt).
[[nodiscard]] Result<QByteArray> hashPassword(QByteArrayView passwordUtf8, Argon2Params params);
[[nodiscard]] bool verifyPassword(const QByteArray &storedHash, QByteArrayView passwordUtf8);
// Whether a stored hash was made with other parameters than these (after the
// admin changed them), so that a login should store a fresh one.
[[nodiscard]] bool needsRehash(const QByteArray &storedHash, Argon2Params params);

// A new random device token: 32 bytes, base64url without padding.
[[nodiscard]] QByteArray newDeviceToken();
// What the store keeps of a token: its BLAKE2b-256 hash (a token is random
// and long, so a fast hash is enough; a stolen database yields no tokens).
[[nodiscard]] QByteArray hashDeviceToken(QByteArrayView token);

} // namespace kith::server
