#include "tls_identity.h"

#include "kith/fingerprint.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QSslCertificate>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace kith::server {

namespace {
// The key is the server's identity for as long as clients pin it; an expiry
// would only force a new key (and a warning on every client) for no gain.
constexpr long kValidDays = 100L * 365;
// Tolerates a client whose clock runs a little behind the server's.
constexpr long kBackdateSeconds = 24L * 3600;

struct OpenSslDeleter
{
    void operator()(EVP_PKEY *p) const { EVP_PKEY_free(p); }
    void operator()(X509 *p) const { X509_free(p); }
    void operator()(BIO *p) const { BIO_free(p); }
    void operator()(BIGNUM *p) const { BN_free(p); }
};
template<typename T> using OpenSslPtr = std::unique_ptr<T, OpenSslDeleter>;

Error openSslError(const QString &what)
{
    char text[256] = {};
    ERR_error_string_n(ERR_get_error(), text, sizeof text);
    return makeError(v1::INTERNAL, QStringLiteral("%1: %2").arg(what, QString::fromLatin1(text)));
}

QByteArray bioBytes(BIO *bio)
{
    char *data = nullptr;
    const long size = BIO_get_mem_data(bio, &data);
    return QByteArray(data, qsizetype(size));
}

struct Pem
{
    QByteArray cert;
    QByteArray key;
};

Result<Pem> makeSelfSigned(const QString &commonName)
{
    OpenSslPtr<EVP_PKEY> key(EVP_EC_gen("P-256"));
    if (!key)
        return openSslError(QStringLiteral("Cannot make a key"));
    OpenSslPtr<X509> cert(X509_new());
    OpenSslPtr<BIGNUM> serial(BN_new());
    if (!cert || !serial)
        return openSslError(QStringLiteral("Cannot make a certificate"));
    // A random serial: certificates made again (a new key) never share one.
    if (!BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
        !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) ||
        !X509_set_version(cert.get(), 2) ||
        !X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kBackdateSeconds) ||
        !X509_time_adj_ex(X509_getm_notAfter(cert.get()), int(kValidDays), 0, nullptr) ||
        !X509_set_pubkey(cert.get(), key.get()))
        return openSslError(QStringLiteral("Cannot fill in the certificate"));
    X509_NAME *name = X509_get_subject_name(cert.get());
    const QByteArray cn = commonName.left(64).toUtf8();
    if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                    reinterpret_cast<const unsigned char *>(cn.constData()),
                                    int(cn.size()), -1, 0) ||
        !X509_set_issuer_name(cert.get(), name))
        return openSslError(QStringLiteral("Cannot name the certificate"));
    X509V3_CTX context;
    X509V3_set_ctx_nodb(&context);
    X509V3_set_ctx(&context, cert.get(), cert.get(), nullptr, nullptr, 0);
    X509_EXTENSION *constraints =
        X509V3_EXT_conf_nid(nullptr, &context, NID_basic_constraints, "critical,CA:FALSE");
    if (!constraints)
        return openSslError(QStringLiteral("Cannot mark the certificate"));
    const int added = X509_add_ext(cert.get(), constraints, -1);
    X509_EXTENSION_free(constraints);
    if (!added || !X509_sign(cert.get(), key.get(), EVP_sha256()))
        return openSslError(QStringLiteral("Cannot sign the certificate"));

    OpenSslPtr<BIO> keyPem(BIO_new(BIO_s_mem()));
    OpenSslPtr<BIO> certPem(BIO_new(BIO_s_mem()));
    if (!keyPem || !certPem ||
        !PEM_write_bio_PrivateKey(keyPem.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) ||
        !PEM_write_bio_X509(certPem.get(), cert.get()))
        return openSslError(QStringLiteral("Cannot write the key or certificate"));
    return Pem{bioBytes(certPem.get()), bioBytes(keyPem.get())};
}

// Writes the file whole or not at all (a temporary file, synced, renamed over
// the name), readable and writable by the owner only from its first byte.
Status writeAtomically(const QString &path, const QByteArray &bytes)
{
    QByteArray temp = QFile::encodeName(path + QStringLiteral(".XXXXXX"));
    const int fd = ::mkostemp(temp.data(), O_CLOEXEC); // mode 0600
    if (fd < 0)
        return makeError(v1::INTERNAL, QStringLiteral("Cannot create %1: %2")
                                           .arg(path, QString::fromLocal8Bit(strerror(errno))));
    qsizetype written = 0;
    while (written < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.constData() + written, size_t(bytes.size() - written));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        written += n;
    }
    const bool ok = written == bytes.size() && ::fsync(fd) == 0;
    const int savedErrno = errno;
    ::close(fd);
    if (!ok || ::rename(temp.constData(), QFile::encodeName(path).constData()) != 0) {
        const int error = ok ? errno : savedErrno;
        ::unlink(temp.constData());
        return makeError(v1::INTERNAL, QStringLiteral("Cannot write %1: %2")
                                           .arg(path, QString::fromLocal8Bit(strerror(error))));
    }
    return Done{};
}

// The renames reach the disk too: a power cut after start does not bring
// back a folder without the key clients have pinned.
void syncFolder(const QString &dir)
{
    const int fd = ::open(QFile::encodeName(dir).constData(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
}
} // namespace

QString TlsIdentity::certPathIn(const QString &dataDir)
{
    return QDir(dataDir).filePath(QStringLiteral("tls-cert.pem"));
}

QString TlsIdentity::keyPathIn(const QString &dataDir)
{
    return QDir(dataDir).filePath(QStringLiteral("tls-key.pem"));
}

Result<TlsFiles> TlsIdentity::ensure(const QString &dataDir, const QString &commonName)
{
    TlsFiles files{certPathIn(dataDir), keyPathIn(dataDir), false};
    const bool haveCert = QFileInfo::exists(files.certFile);
    const bool haveKey = QFileInfo::exists(files.keyFile);
    if (haveCert && haveKey)
        return files;
    // The key is written first: a certificate alone means the key was
    // removed, and making a new one would change what clients pinned.
    if (haveCert)
        return makeError(v1::INVALID_ARGUMENT,
                         QStringLiteral("%1 is there but its key %2 is missing; restore the "
                                        "key, or remove the certificate to make a new key "
                                        "(clients will then warn that the key changed)")
                             .arg(files.certFile, files.keyFile));
    // A key alone is a first start cut short before its certificate was
    // written: no client has seen it, so both are made again.
    Result<Pem> pem = makeSelfSigned(commonName);
    if (!pem)
        return pem.error();
    if (const Status key = writeAtomically(files.keyFile, pem->key); !key)
        return key.error();
    if (const Status cert = writeAtomically(files.certFile, pem->cert); !cert)
        return cert.error();
    syncFolder(dataDir);
    files.created = true;
    return files;
}

Result<QByteArray> TlsIdentity::fingerprintOf(const QString &certFile)
{
    if (!QFileInfo::exists(certFile))
        return makeError(v1::NOT_FOUND, QStringLiteral("No certificate at %1").arg(certFile));
    const QList<QSslCertificate> chain = QSslCertificate::fromPath(certFile, QSsl::Pem);
    if (chain.isEmpty())
        return makeError(v1::INVALID_ARGUMENT,
                         QStringLiteral("No PEM certificate in %1").arg(certFile));
    return certificateFingerprint(chain.constFirst().toDer());
}

} // namespace kith::server
