#pragma once
// kithd's logging categories, one per component. Filter them with --log-rules,
// e.g. "kith.session.debug=true" or "kith.*.info=false".

#include <QLoggingCategory>

Q_DECLARE_LOGGING_CATEGORY(lcGateway)  // kith.gateway: listening, accepting, TLS
Q_DECLARE_LOGGING_CATEGORY(lcSession)  // kith.session: per-connection protocol
Q_DECLARE_LOGGING_CATEGORY(lcAuth)     // kith.auth: register, login, tokens, devices
Q_DECLARE_LOGGING_CATEGORY(lcMessages) // kith.messages: send, pull, sync, read, typing
Q_DECLARE_LOGGING_CATEGORY(lcGroups)   // kith.groups: group changes
Q_DECLARE_LOGGING_CATEGORY(lcPresence) // kith.presence: online/offline
Q_DECLARE_LOGGING_CATEGORY(lcAdmin)    // kith.admin: admin HTTP and the user command line
Q_DECLARE_LOGGING_CATEGORY(lcFiles)    // kith.files: uploads, downloads, blobs, the sweep
