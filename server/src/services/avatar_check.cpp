#include "avatar_check.h"

#include "conversation_access.h"
#include "kith/content.h"
#include "kith/protocol.h"

namespace kith::server {

namespace {
// What the file's first bytes and MIME type say; an error to answer otherwise.
Status checkImage(BlobStore &blobs, const FileRecord &file)
{
    if (file.size > kMaxAvatarBytes)
        return makeError(v1::INVALID_ARGUMENT,
                         QStringLiteral("A picture is at most %1 KiB").arg(kMaxAvatarBytes / 1024));
    const QString mime = file.mimeType.toLower();
    const Error notImage =
        makeError(v1::INVALID_ARGUMENT, QStringLiteral("A picture is a PNG, JPEG or WebP image"));
    // The uploader's word for the type, and the bytes agreeing with it.
    QByteArrayView magic;
    qint64 at = 0;
    if (mime == u"image/png") {
        magic = "\x89PNG\r\n\x1a\n";
    } else if (mime == u"image/jpeg") {
        magic = "\xff\xd8\xff";
    } else if (mime == u"image/webp") {
        magic = "WEBP"; // after "RIFF" and the length
        at = 8;
    } else {
        return notImage;
    }
    Result<std::unique_ptr<BlobStore::BlobReader>> reader = blobs.openBlob(file.sha256);
    if (!reader)
        return storeError(reader.error());
    char head[12] = {};
    const qint64 got = (*reader)->read(0, head, sizeof head);
    if (got < at + magic.size() || QByteArrayView(head + at, magic.size()) != magic ||
        (at > 0 && QByteArrayView(head, 4) != "RIFF"))
        return notImage;
    return Done{};
}
} // namespace

Error notOwnPicture()
{
    return makeError(v1::INVALID_ARGUMENT,
                     QStringLiteral("A picture must be a finished upload of yours"));
}

Status checkAvatarColor(quint32 color)
{
    if (color > kMaxAvatarColor)
        return makeError(v1::INVALID_ARGUMENT,
                         QStringLiteral("An avatar colour is 0 to %1").arg(kMaxAvatarColor));
    return Done{};
}

Status checkAvatarPicture(Store &store, BlobStore &blobs, quint64 userId, const std::string &fileId)
{
    if (fileId.empty())
        return Done{};
    if (!isValidFileId(fileId))
        return notOwnPicture();
    const Result<std::optional<FileRecord>> file = store.file(toQString(fileId));
    if (!file)
        return storeError(file.error());
    if (!*file || (*file)->uploaderId != userId || !(*file)->complete)
        return notOwnPicture();
    return checkImage(blobs, **file);
}

} // namespace kith::server
