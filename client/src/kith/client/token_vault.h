#pragma once
// TokenVault: where the device token of the signed-in account is kept — the
// system keychain (QtKeychain) when there is one, otherwise a file readable
// only by its owner beside the account's store. Owned by KithClient, one
// account at a time. Keychain jobs are asynchronous: results arrive through
// callbacks; the file fallback answers at once.

#include <QObject>
#include <QString>

#include <functional>

namespace kith::client {

class TokenVault : public QObject
{
    Q_OBJECT
public:
    // KITH_NO_KEYCHAIN=1 turns the keychain off (tests, headless machines).
    [[nodiscard]] static bool keychainWanted();

    explicit TokenVault(bool useKeychain = keychainWanted(), QObject *parent = nullptr);
    // Waits for keychain writes still in flight, so that a process that
    // exits right after signing in keeps its session.
    ~TokenVault() override;

    // key: names the account in the keychain; filePath: the fallback file.
    void setAccount(const QString &key, const QString &filePath);
    [[nodiscard]] QString filePath() const { return m_filePath; }

    // done(token), with an empty token when none is stored.
    void read(std::function<void(QString)> done);
    void write(const QString &token);
    // Removes the token from the keychain and the file.
    void remove();

private:
    [[nodiscard]] QString readFile() const;
    static void writeFile(const QString &path, const QString &token);
    // Once per vault: the log says where the token went and why.
    void warnFallback(const QString &why, const QString &path);

    bool m_useKeychain;
    bool m_warned = false;
    bool m_closing = false;
    int m_writesInFlight = 0;
    QString m_key;
    QString m_filePath;
};

} // namespace kith::client
