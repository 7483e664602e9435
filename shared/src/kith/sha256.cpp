#include "kith/sha256.h"

#include <QFile>

#include <openssl/evp.h>

namespace kith {

namespace {
// Large reads keep a whole-file hash near the speed of the hash itself.
constexpr qint64 kFileBlockBytes = 1024 * 1024;
} // namespace

struct Sha256::State
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    ~State() { EVP_MD_CTX_free(ctx); }
    void reset() { EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr); }
};

Sha256::Sha256()
    : m_state(std::make_unique<State>())
{
    m_state->reset();
}

Sha256::~Sha256() = default;
Sha256::Sha256(Sha256 &&) noexcept = default;
Sha256 &Sha256::operator=(Sha256 &&) noexcept = default;

void Sha256::add(QByteArrayView bytes)
{
    if (bytes.isEmpty())
        return;
    EVP_DigestUpdate(m_state->ctx, bytes.data(), size_t(bytes.size()));
    m_count += bytes.size();
}

QByteArray Sha256::result()
{
    QByteArray digest(EVP_MAX_MD_SIZE, Qt::Uninitialized);
    unsigned int length = 0;
    EVP_DigestFinal_ex(m_state->ctx, reinterpret_cast<unsigned char *>(digest.data()), &length);
    digest.truncate(qsizetype(length));
    m_state->reset();
    m_count = 0;
    return digest;
}

QByteArray Sha256::of(QByteArrayView bytes)
{
    Sha256 hash;
    hash.add(bytes);
    return hash.result();
}

Result<QByteArray> Sha256::ofFile(const QString &path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return makeError(v1::NOT_FOUND,
                         QStringLiteral("Cannot read %1: %2").arg(path, file.errorString()));
    Sha256 hash;
    QByteArray block(kFileBlockBytes, Qt::Uninitialized);
    for (;;) {
        const qint64 got = file.read(block.data(), block.size());
        if (got < 0)
            return makeError(v1::INTERNAL,
                             QStringLiteral("Cannot read %1: %2").arg(path, file.errorString()));
        if (got == 0)
            break;
        hash.add(QByteArrayView(block.data(), got));
    }
    return hash.result();
}

} // namespace kith
