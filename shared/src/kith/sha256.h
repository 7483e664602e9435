#pragma once
// SHA-256 for files: uploads are verified by it, downloads checked against it.
// On OpenSSL's implementation, which uses the processor's SHA instructions
// where there are any (several times Qt's own on a large file).

#include "kith/result.h"

#include <QByteArray>
#include <QByteArrayView>
#include <QString>

#include <memory>

namespace kith {

class Sha256
{
public:
    Sha256();
    ~Sha256();
    Sha256(Sha256 &&) noexcept;
    Sha256 &operator=(Sha256 &&) noexcept;
    Sha256(const Sha256 &) = delete;
    Sha256 &operator=(const Sha256 &) = delete;

    void add(QByteArrayView bytes);
    // The digest of everything added (32 bytes); the object starts over after.
    [[nodiscard]] QByteArray result();
    // Bytes added since the last result().
    [[nodiscard]] qint64 count() const { return m_count; }

    [[nodiscard]] static QByteArray of(QByteArrayView bytes);
    // The digest of a whole file, read in large blocks.
    [[nodiscard]] static Result<QByteArray> ofFile(const QString &path);

private:
    struct State;
    std::unique_ptr<State> m_state;
    qint64 m_count = 0;
};

} // namespace kith
