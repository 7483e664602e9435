#include "logging.h"

Q_LOGGING_CATEGORY(lcGateway, "kith.gateway", QtInfoMsg)
Q_LOGGING_CATEGORY(lcSession, "kith.session", QtInfoMsg)
Q_LOGGING_CATEGORY(lcAuth, "kith.auth", QtInfoMsg)
Q_LOGGING_CATEGORY(lcMessages, "kith.messages", QtInfoMsg)
Q_LOGGING_CATEGORY(lcGroups, "kith.groups", QtInfoMsg)
Q_LOGGING_CATEGORY(lcPresence, "kith.presence", QtInfoMsg)
Q_LOGGING_CATEGORY(lcAdmin, "kith.admin", QtInfoMsg)
Q_LOGGING_CATEGORY(lcFiles, "kith.files", QtInfoMsg)
