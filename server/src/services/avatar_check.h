#pragma once
// What an avatar may be, a user's (UserService::setAvatar) or a group's
// (GroupService::setGroupAvatar): a colour 0..kMaxAvatarColor and a picture
// that is one of the caller's own finished uploads, a PNG, JPEG or WebP image
// by its MIME type and its first bytes, at most kMaxAvatarBytes. One check for
// both, so that the two requests cannot drift apart.

#include "blob_store.h"
#include "store.h"

#include <string>

namespace kith::server {

// The answer for a file that is not the caller's own finished upload: the
// same whoever else's it is and whether or not it exists, so that the
// answer tells nothing about other users' files.
[[nodiscard]] Error notOwnPicture();

// INVALID_ARGUMENT for a colour past kMaxAvatarColor.
[[nodiscard]] Status checkAvatarColor(quint32 color);

// INVALID_ARGUMENT (notOwnPicture()) unless `fileId` is a finished upload of
// `userId`'s, and for one that is too large or not an image. An empty id (no
// picture) passes.
[[nodiscard]] Status checkAvatarPicture(Store &store, BlobStore &blobs, quint64 userId,
                                        const std::string &fileId);

} // namespace kith::server
