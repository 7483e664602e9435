#include "kith/client/logging.h"

Q_LOGGING_CATEGORY(lcConnection, "kith.client.connection", QtInfoMsg)
Q_LOGGING_CATEGORY(lcStore, "kith.client.store", QtInfoMsg)
Q_LOGGING_CATEGORY(lcSync, "kith.client.sync", QtInfoMsg)
Q_LOGGING_CATEGORY(lcOutbox, "kith.client.outbox", QtInfoMsg)
Q_LOGGING_CATEGORY(lcModels, "kith.client.models", QtInfoMsg)
Q_LOGGING_CATEGORY(lcClient, "kith.client", QtInfoMsg)
Q_LOGGING_CATEGORY(lcLan, "kith.client.lan", QtInfoMsg)
