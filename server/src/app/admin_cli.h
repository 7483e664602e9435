#pragma once
// `kithd user add|list|passwd|disable|enable`: account administration straight
// on the data folder's store (also while the server runs: SQLite's WAL and
// busy timeout let both write). Called from main() for `kithd user ...`.

#include "store.h"

#include <QStringList>
#include <QTextStream>

#include <functional>
#include <memory>

namespace kith::server {

// Makes the store at a location: a database file or a postgresql:// URL.
using StoreFactory = std::function<std::unique_ptr<Store>(const QString &location)>;

// args as given to kithd ("kithd", "user", ...). Returns the exit status;
// writes results to `out` and a one-line error to `err`.
[[nodiscard]] int runUserCommand(const QStringList &args, QTextStream &in, QTextStream &out,
                                 QTextStream &err, const StoreFactory &openStore);

} // namespace kith::server
