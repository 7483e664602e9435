#include "password_hasher.h"

#include <QPointer>
#include <QThread>

namespace kith::server {

PasswordHasher::PasswordHasher(Argon2Params params, QObject *parent)
    : QObject(parent)
    , m_params(params)
{
    (void)initCrypto();
    // Each job holds memoryKib of RAM; one per core bounds memory and leaves
    // the event loop its share of the CPU.
    m_pool.setMaxThreadCount(qMax(1, QThread::idealThreadCount()));
    auto dummy = std::make_shared<std::promise<QByteArray>>();
    m_dummyHash = dummy->get_future().share();
    m_pool.start([dummy, params] {
        const Result<QByteArray> hash = hashPassword(newDeviceToken(), params);
        dummy->set_value(hash ? *hash : QByteArray());
    });
}

PasswordHasher::~PasswordHasher()
{
    m_pool.waitForDone();
}

void PasswordHasher::hash(const QString &password, QObject *context,
                          std::function<void(Result<QByteArray>)> done)
{
    QPointer<QObject> guard(context);
    m_pool.start([this, utf8 = password.toUtf8(), params = m_params, guard,
                  done = std::move(done)]() mutable {
        Result<QByteArray> result = hashPassword(utf8, params);
        QMetaObject::invokeMethod(
            this,
            [guard, done = std::move(done), result = std::move(result)]() mutable {
                if (guard)
                    done(std::move(result));
            },
            Qt::QueuedConnection);
    });
}

void PasswordHasher::verify(const QByteArray &storedHash, const QString &password, QObject *context,
                            std::function<void(bool, QByteArray)> done)
{
    QPointer<QObject> guard(context);
    m_pool.start([this, params = m_params, storedHash, utf8 = password.toUtf8(), guard,
                  done = std::move(done)]() mutable {
        const bool ok = verifyPassword(storedHash, utf8);
        ++m_verifications;
        QByteArray upgraded;
        if (ok && needsRehash(storedHash, params)) {
            if (const Result<QByteArray> fresh = hashPassword(utf8, params))
                upgraded = *fresh;
        }
        QMetaObject::invokeMethod(
            this,
            [guard, done = std::move(done), ok, upgraded = std::move(upgraded)]() {
                if (guard)
                    done(ok, upgraded);
            },
            Qt::QueuedConnection);
    });
}

void PasswordHasher::verifyUnknown(const QString &password, QObject *context,
                                   std::function<void()> done)
{
    QPointer<QObject> guard(context);
    m_pool.start([this, dummy = m_dummyHash, utf8 = password.toUtf8(), guard,
                  done = std::move(done)]() mutable {
        (void)verifyPassword(dummy.get(), utf8);
        ++m_verifications;
        QMetaObject::invokeMethod(
            this,
            [guard, done = std::move(done)]() {
                if (guard)
                    done();
            },
            Qt::QueuedConnection);
    });
}

void PasswordHasher::waitForIdle()
{
    m_pool.waitForDone();
}

} // namespace kith::server
