#include "kith/client/token_vault.h"

#include "kith/client/logging.h"

#include <QEventLoop>
#include <QFile>
#include <QSaveFile>
#include <qt6keychain/keychain.h>

namespace kith::client {

namespace {
// The keychain entry's service name: what the user sees in the keychain app.
const QString kService = QStringLiteral("Kith");
} // namespace

bool TokenVault::keychainWanted()
{
    return qEnvironmentVariableIntValue("KITH_NO_KEYCHAIN") != 1;
}

TokenVault::TokenVault(bool useKeychain, QObject *parent)
    : QObject(parent)
    , m_useKeychain(useKeychain)
{}

TokenVault::~TokenVault()
{
    m_closing = true;
    QEventLoop loop;
    while (m_writesInFlight > 0)
        loop.processEvents(QEventLoop::WaitForMoreEvents);
}

void TokenVault::setAccount(const QString &key, const QString &filePath)
{
    m_key = key;
    m_filePath = filePath;
}

void TokenVault::read(std::function<void(QString)> done)
{
    if (!m_useKeychain)
        return done(readFile());
    auto *job = new QKeychain::ReadPasswordJob(kService, this);
    job->setKey(m_key);
    connect(job, &QKeychain::Job::finished, this, [this, job, done = std::move(done)] {
        if (m_closing)
            return;
        if (job->error() == QKeychain::NoError)
            return done(job->textData());
        // A token written while the keychain was unavailable is in the file.
        if (job->error() != QKeychain::EntryNotFound)
            warnFallback(job->errorString(), m_filePath);
        done(readFile());
    });
    job->start();
}

void TokenVault::write(const QString &token)
{
    if (!m_useKeychain) {
        warnFallback(QStringLiteral("turned off"), m_filePath);
        return writeFile(m_filePath, token);
    }
    auto *job = new QKeychain::WritePasswordJob(kService, this);
    job->setKey(m_key);
    job->setTextData(token);
    ++m_writesInFlight;
    // The account may change before the keychain answers.
    connect(job, &QKeychain::Job::finished, this, [this, job, token, path = m_filePath] {
        --m_writesInFlight;
        if (job->error() == QKeychain::NoError) {
            // An older token from a time without keychain must not linger on disk.
            QFile::remove(path);
            return;
        }
        warnFallback(job->errorString(), path);
        writeFile(path, token);
    });
    job->start();
}

void TokenVault::remove()
{
    QFile::remove(m_filePath);
    if (!m_useKeychain)
        return;
    auto *job = new QKeychain::DeletePasswordJob(kService, this);
    job->setKey(m_key);
    ++m_writesInFlight;
    connect(job, &QKeychain::Job::finished, this, [this] { --m_writesInFlight; });
    job->start();
}

QString TokenVault::readFile() const
{
    QFile file(m_filePath);
    if (!file.open(QIODevice::ReadOnly))
        return {};
    return QString::fromUtf8(file.readAll()).trimmed();
}

void TokenVault::writeFile(const QString &path, const QString &token)
{
    QSaveFile file(path);
    // Owner-only before a byte is written: the token lets anyone act as the user.
    if (!file.open(QIODevice::WriteOnly) ||
        !file.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner) ||
        file.write(token.toUtf8()) < 0 || !file.commit()) {
        qCWarning(lcClient) << "cannot store the session token in" << path << ':'
                            << file.errorString();
    }
}

void TokenVault::warnFallback(const QString &why, const QString &path)
{
    if (m_warned)
        return;
    m_warned = true;
    qCWarning(lcClient).noquote() << QStringLiteral("system keychain not available (%1): the "
                                                    "session token is kept in %2, readable only "
                                                    "by its owner")
                                         .arg(why, path);
}

} // namespace kith::client
