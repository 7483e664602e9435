#pragma once
// TlsIdentity: the certificate kithd serves wss:// with when the admin gives
// none. The first start makes an EC P-256 key and a self-signed certificate in
// the data folder (each file written whole or not at all, readable by the
// owner only); every later start reuses them, so the fingerprint clients
// pinned stays the same. Used by Server::start and `kithd fingerprint`.

#include "kith/result.h"

#include <QByteArray>
#include <QString>

namespace kith::server {

struct TlsFiles
{
    QString certFile;
    QString keyFile;
    bool created = false; // made by this call (first start)
};

class TlsIdentity
{
public:
    // Where the data folder's own certificate and key live.
    [[nodiscard]] static QString certPathIn(const QString &dataDir);
    [[nodiscard]] static QString keyPathIn(const QString &dataDir);

    // The data folder's certificate and key: made now when there are none,
    // otherwise the ones there. commonName goes into the certificate's subject
    // (for people looking at it; clients check the fingerprint).
    [[nodiscard]] static Result<TlsFiles> ensure(const QString &dataDir, const QString &commonName);

    // SHA-256 of the first certificate in a PEM file.
    [[nodiscard]] static Result<QByteArray> fingerprintOf(const QString &certFile);
};

} // namespace kith::server
