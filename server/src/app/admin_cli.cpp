#include "admin_cli.h"

#include "config.h"
#include "credentials.h"
#include "kith/content.h"
#include "kith/protocol.h"
#include "logging.h"
#include "store_factory.h"
#include "user_service.h"

#include <QCommandLineParser>
#include <QDir>
#include <QEventLoop>
#include <QFile>
#include <QFileInfo>
#include <QSettings>

namespace kith::server {

namespace {
constexpr int kMinPasswordBytes = 8;
constexpr int kMaxPasswordBytes = 1024;

const char *const kUsage =
    "usage: kithd user add NAME [--display-name X] [--password PW] [--data DIR]\n"
    "       kithd user list [--data DIR]\n"
    "       kithd user passwd NAME [--password PW] [--data DIR]\n"
    "       kithd user disable NAME [--data DIR]\n"
    "       kithd user enable NAME [--data DIR]\n"
    "       kithd user hide NAME [--data DIR]    (from the directory; unhide shows it again)\n"
    "       kithd user unhide NAME [--data DIR]\n"
    "Passwords are read from the first line of stdin unless --password is given.\n"
    "All take --store URL instead of --data DIR for a PostgreSQL database, and\n"
    "--config FILE (the server's INI: data, store, argon2-memory-kib, argon2-ops).\n";

// Runs one asynchronous store write to completion.
template<class T, class Start> Result<T> await(Start start)
{
    QObject context;
    QEventLoop loop;
    std::optional<Result<T>> outcome;
    start(&context, [&](Result<T> result) {
        outcome.emplace(std::move(result));
        loop.quit();
    });
    if (!outcome)
        loop.exec();
    return std::move(*outcome);
}

class UserCommand
{
public:
    UserCommand(QTextStream &in, QTextStream &out, QTextStream &err)
        : m_in(in)
        , m_out(out)
        , m_err(err)
    {}

    int run(const QStringList &args, const StoreFactory &openStore)
    {
        QCommandLineParser parser;
        parser.addOptions({
            {QStringLiteral("data"), QStringLiteral("Data folder."), QStringLiteral("DIR"),
             QStringLiteral("kith-data")},
            {QStringLiteral("display-name"), QStringLiteral("Display name."), QStringLiteral("X")},
            {QStringLiteral("password"), QStringLiteral("Password (else stdin)."),
             QStringLiteral("PW")},
            {QStringLiteral("argon2-memory-kib"), QStringLiteral("Argon2id memory in KiB."),
             QStringLiteral("N")},
            {QStringLiteral("argon2-ops"), QStringLiteral("Argon2id passes."), QStringLiteral("N")},
            {QStringLiteral("store"), QStringLiteral("PostgreSQL database URL (else --data)."),
             QStringLiteral("URL")},
            {QStringLiteral("config"),
             QStringLiteral("The server's INI file (data, store, argon2-*)."),
             QStringLiteral("FILE")},
        });
        if (!parser.parse(args))
            return fail(parser.errorText());
        const QStringList words = parser.positionalArguments(); // "user", verb, [NAME]
        if (words.size() < 2)
            return usage();
        const QString verb = words.at(1);
        const bool needsName = verb != QLatin1String("list");
        if (words.size() != (needsName ? 3 : 2))
            return usage();
        const QString name = needsName ? normalizeUsername(words.at(2)) : QString();

        // Same settings as the server: its config file, overridden by flags.
        std::unique_ptr<QSettings> file;
        if (parser.isSet(QStringLiteral("config"))) {
            const QString path = parser.value(QStringLiteral("config"));
            if (!QFileInfo(path).isReadable())
                return fail(QStringLiteral("cannot read config file %1").arg(path));
            file = std::make_unique<QSettings>(path, QSettings::IniFormat);
        }
        const auto option = [&](const QString &key) -> std::optional<QString> {
            if (parser.isSet(key))
                return parser.value(key);
            if (file && file->contains(key))
                return file->value(key).toString();
            return std::nullopt;
        };

        Argon2Params params;
        if (const auto memory = option(QStringLiteral("argon2-memory-kib"))) {
            params.memoryKib = memory->trimmed().toUInt();
            if (params.memoryKib < Argon2Params::kMinMemoryKib)
                return fail(QStringLiteral("--argon2-memory-kib must be at least %1")
                                .arg(Argon2Params::kMinMemoryKib));
        }
        if (const auto ops = option(QStringLiteral("argon2-ops"))) {
            params.ops = ops->trimmed().toUInt();
            if (params.ops < Argon2Params::kMinOps)
                return fail(
                    QStringLiteral("--argon2-ops must be at least %1").arg(Argon2Params::kMinOps));
        }

        QString location;
        if (const auto url = option(QStringLiteral("store"))) {
            const Result<QString> parsed = parseStoreUrl(*url);
            if (!parsed)
                return fail(parsed.error().message);
            location = *parsed;
        } else {
            const QString dataDir =
                option(QStringLiteral("data")).value_or(parser.value(QStringLiteral("data")));
            if (!QDir().mkpath(dataDir))
                return fail(QStringLiteral("cannot create data folder %1").arg(dataDir));
            location = databasePathIn(dataDir);
        }
        std::unique_ptr<Store> store = openStore(location);
        if (const Status opened = store->open(); !opened)
            return fail(QStringLiteral("cannot open the store %1: %2")
                            .arg(describeStoreLocation(location), opened.error().message));
        m_store = store.get();

        int status = 2;
        if (verb == QLatin1String("add"))
            status = add(name, parser, params);
        else if (verb == QLatin1String("list"))
            status = list();
        else if (verb == QLatin1String("passwd"))
            status = passwd(name, parser, params);
        else if (verb == QLatin1String("disable"))
            status = setDisabled(name, true);
        else if (verb == QLatin1String("enable"))
            status = setDisabled(name, false);
        else if (verb == QLatin1String("hide"))
            status = setHidden(name, true);
        else if (verb == QLatin1String("unhide"))
            status = setHidden(name, false);
        else
            status = usage();
        store->close();
        return status;
    }

private:
    int add(const QString &name, const QCommandLineParser &parser, Argon2Params params)
    {
        if (!isValidUsername(name))
            return fail(QStringLiteral("'%1' is not a valid user name (3 to 32 of a-z 0-9 . _ -)")
                            .arg(name));
        QString displayName = name;
        if (parser.isSet(QStringLiteral("display-name"))) {
            const Result<QString> cleaned =
                cleanDisplayName(toStd(parser.value(QStringLiteral("display-name"))));
            if (!cleaned)
                return fail(cleaned.error().message);
            displayName = *cleaned;
        }
        const Result<QByteArray> hash = readAndHashPassword(parser, params);
        if (!hash)
            return fail(hash.error().message);
        const Result<UserRecord> user = await<UserRecord>([&](QObject *context, auto done) {
            m_store->createUser(name, displayName, *hash, context, done);
        });
        if (!user)
            return fail(user.error().code == v1::NAME_TAKEN
                            ? QStringLiteral("user %1 already exists").arg(name)
                            : user.error().message);
        m_out << user->id << ' ' << user->username << ' ' << user->displayName << '\n';
        return 0;
    }

    int list()
    {
        const Result<QList<UserRecord>> users = m_store->listUsers();
        if (!users)
            return fail(users.error().message);
        for (const UserRecord &user : *users) {
            m_out << user.id << ' ' << user.username << ' ' << user.displayName;
            if (user.disabled)
                m_out << " disabled";
            if (user.hidden)
                m_out << " hidden";
            m_out << '\n';
        }
        return 0;
    }

    int passwd(const QString &name, const QCommandLineParser &parser, Argon2Params params)
    {
        const Result<UserRecord> user = findUser(name);
        if (!user)
            return fail(user.error().message);
        const Result<QByteArray> hash = readAndHashPassword(parser, params);
        if (!hash)
            return fail(hash.error().message);
        const Status status = await<Done>([&](QObject *context, auto done) {
            m_store->setPasswordHash(user->id, *hash, context, done);
        });
        return status ? 0 : fail(status.error().message);
    }

    int setDisabled(const QString &name, bool disabled)
    {
        const Result<UserRecord> user = findUser(name);
        if (!user)
            return fail(user.error().message);
        const Status status = await<Done>([&](QObject *context, auto done) {
            m_store->setDisabled(user->id, disabled, context, done);
        });
        return status ? 0 : fail(status.error().message);
    }

    int setHidden(const QString &name, bool hidden)
    {
        const Result<UserRecord> user = findUser(name);
        if (!user)
            return fail(user.error().message);
        const Status status = await<Done>([&](QObject *context, auto done) {
            m_store->setHidden(user->id, hidden, context, done);
        });
        return status ? 0 : fail(status.error().message);
    }

    Result<UserRecord> findUser(const QString &name)
    {
        Result<UserRecord> user = m_store->userByName(name);
        if (!user && user.error().code == v1::NOT_FOUND)
            return makeError(v1::NOT_FOUND, QStringLiteral("no user named %1").arg(name));
        return user;
    }

    Result<QByteArray> readAndHashPassword(const QCommandLineParser &parser, Argon2Params params)
    {
        QString password;
        if (parser.isSet(QStringLiteral("password")))
            password = parser.value(QStringLiteral("password"));
        else
            password = m_in.readLine();
        const QByteArray utf8 = password.toUtf8();
        if (utf8.size() < kMinPasswordBytes || utf8.size() > kMaxPasswordBytes)
            return makeError(v1::INVALID_ARGUMENT,
                             QStringLiteral("a password has %1 to %2 bytes (give it on the first "
                                            "line of stdin or with --password)")
                                 .arg(kMinPasswordBytes)
                                 .arg(kMaxPasswordBytes));
        if (!initCrypto())
            return makeError(v1::INTERNAL, QStringLiteral("libsodium failed to initialise"));
        return hashPassword(utf8, params);
    }

    int usage()
    {
        m_err << kUsage;
        m_err.flush();
        return 2;
    }

    int fail(const QString &message)
    {
        m_err << "kithd user: " << message << '\n';
        m_err.flush();
        return 1;
    }

    QTextStream &m_in;
    QTextStream &m_out;
    QTextStream &m_err;
    Store *m_store = nullptr;
};
} // namespace

int runUserCommand(const QStringList &args, QTextStream &in, QTextStream &out, QTextStream &err,
                   const StoreFactory &openStore)
{
    UserCommand command(in, out, err);
    const int status = command.run(args, openStore);
    out.flush();
    return status;
}

} // namespace kith::server
