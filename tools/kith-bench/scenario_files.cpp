// kith-bench files: file transfers through kithd (docs/protocol.md "Files").
// Three parts, each bounded in time:
//  1. a --file-mib file uploaded (CreateUploadRequest, then one PUT streaming
//     it) and downloaded (GET, bytes dropped), each against a plain copy of
//     the same bytes over a loopback TCP socket made in the same run with the
//     same buffer size, and the upload also against the same bytes written
//     into the folder of kithd's files and synced (what that disk can take
//     durably);
//     kithd's resident memory sampled meanwhile;
//  2. --clients users each uploading a 1 MiB image at once, every one then
//     fetched back and checked against its SHA-256;
//  3. chat latency of --pairs at --rate for --seconds: quiet, then while the
//     big file is uploaded and downloaded over and over, then quiet again.
// Fails when a transfer is refused or wrong, an image is lost or a message is
// lost, duplicated or reordered; never because something was slow.

#include "latency_histogram.h"
#include "pair_traffic.h"
#include "scenario_common.h"

#include "kith/sha256.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <thread>

namespace kith::bench {

namespace {

// kithd reads an upload through one buffer of this size; every copy here,
// to kithd or plain, moves its bytes through buffers of the same size.
constexpr size_t kChunkBytes = 256 * 1024;
constexpr size_t kImageBytes = 1024 * 1024;
// A blocking send or receive that moves nothing for this long fails.
constexpr int kIoTimeoutSeconds = 60;
constexpr int64_t kRssPeriodNs = 20'000'000;
// A transfer answered 429 (the user's transfer budget) is tried again after this.
constexpr useconds_t kRateLimitedPauseUs = 100'000;
// The last bytes of the big file: a counter in its variants (see BigFile).
constexpr int64_t kSuffixBytes = 8;
// "The file is being stored; try again": asked again at most this often.
constexpr int kFetchRetries = 5;

constexpr double kMiB = 1024.0 * 1024.0;

double mibPerSecond(int64_t bytes, int64_t ns)
{
    return ns > 0 ? double(bytes) / kMiB / (double(ns) / 1e9) : 0.0;
}

// Pseudo-random bytes, fast enough that making a GiB is a matter of seconds.
uint64_t splitMix(uint64_t &state)
{
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void fillRandom(char *out, size_t size, uint64_t &state)
{
    size_t at = 0;
    for (; at + 8 <= size; at += 8) {
        const uint64_t word = splitMix(state);
        std::memcpy(out + at, &word, 8);
    }
    if (at < size) {
        const uint64_t word = splitMix(state);
        std::memcpy(out + at, &word, size - at);
    }
}

uint64_t seedOf(const std::string &text)
{
    uint64_t seed = 1469598103934665603ull; // FNV-1a
    for (const char c : text)
        seed = (seed ^ uint8_t(c)) * 1099511628211ull;
    return seed;
}

// The big file, in a temp folder: pseudo-random bytes that start with the
// run's tag, so that no earlier run's upload of them exists. Variant 0 is the
// file as written; variant v > 0 has v in its last 8 bytes instead, so that
// each upload of part 3 is new bytes (kithd answers the same user's same bytes
// with the file already stored), and its SHA-256 comes from the hash of the
// shared prefix without reading the file again.
class BigFile
{
public:
    ~BigFile()
    {
        if (m_fd >= 0)
            ::close(m_fd);
        EVP_MD_CTX_free(m_prefix);
        if (!m_dir.empty())
            std::filesystem::remove_all(m_dir);
    }

    bool create(int64_t size, const std::string &tag)
    {
        // In memory where there is /dev/shm: a client's file is not on the
        // server's disk, and a GiB written to /tmp beside kithd's data is
        // written back by the kernel some 30 s later, in the middle of the
        // chat runs the scenario measures.
        char shm[] = "/dev/shm/kith-bench-files-XXXXXX";
        char tmp[] = "/tmp/kith-bench-files-XXXXXX";
        const char *made = ::mkdtemp(shm);
        if (!made)
            made = ::mkdtemp(tmp);
        if (!made)
            return false;
        const char *pattern = made;
        m_dir = pattern;
        m_size = size;
        const std::string path = m_dir + "/big.bin";
        m_fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (m_fd < 0 || size < kSuffixBytes)
            return false;
        m_prefix = EVP_MD_CTX_new();
        EVP_DigestInit_ex(m_prefix, EVP_sha256(), nullptr);
        uint64_t state = seedOf(tag);
        std::vector<char> block(4 * 1024 * 1024);
        const int64_t prefixSize = size - kSuffixBytes;
        for (int64_t at = 0; at < size;) {
            const size_t n = size_t(std::min<int64_t>(int64_t(block.size()), size - at));
            fillRandom(block.data(), n, state);
            if (at == 0)
                std::memcpy(block.data(), tag.data(), std::min(tag.size(), n));
            const int64_t hashed = std::clamp<int64_t>(prefixSize - at, 0, int64_t(n));
            EVP_DigestUpdate(m_prefix, block.data(), size_t(hashed));
            if (hashed < int64_t(n))
                m_suffix.append(block.data() + hashed, n - size_t(hashed));
            if (::write(m_fd, block.data(), n) != ssize_t(n))
                return false;
            at += int64_t(n);
        }
        return m_suffix.size() == size_t(kSuffixBytes);
    }

    [[nodiscard]] int64_t size() const { return m_size; }

    // The last 8 bytes of variant v.
    [[nodiscard]] std::string suffix(uint64_t variant) const
    {
        if (variant == 0)
            return m_suffix;
        std::string bytes(kSuffixBytes, '\0');
        std::memcpy(bytes.data(), &variant, kSuffixBytes);
        return bytes;
    }

    [[nodiscard]] std::string sha256(uint64_t variant) const
    {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        EVP_MD_CTX_copy_ex(ctx, m_prefix);
        const std::string last = suffix(variant);
        EVP_DigestUpdate(ctx, last.data(), last.size());
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned int length = 0;
        EVP_DigestFinal_ex(ctx, digest, &length);
        EVP_MD_CTX_free(ctx);
        return {reinterpret_cast<const char *>(digest), length};
    }

    // Bytes [offset, offset + max) of variant v; the count read.
    ssize_t read(uint64_t variant, int64_t offset, char *out, size_t max) const
    {
        const size_t n = size_t(std::min<int64_t>(int64_t(max), m_size - offset));
        const ssize_t got = ::pread(m_fd, out, n, offset);
        if (got <= 0)
            return got;
        const int64_t suffixAt = m_size - kSuffixBytes;
        if (offset + got > suffixAt) {
            const std::string last = suffix(variant);
            for (int64_t i = std::max(offset, suffixAt); i < offset + got; ++i)
                out[i - offset] = last[size_t(i - suffixAt)];
        }
        return got;
    }

private:
    std::string m_dir;
    int m_fd = -1;
    int64_t m_size = 0;
    EVP_MD_CTX *m_prefix = nullptr;
    std::string m_suffix;
};

// ------------------------------------------------------------ HTTP, blocking

int openConnection(const sockaddr_in &target, in_addr_t source)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    timeval timeout{kIoTimeoutSeconds, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    sockaddr_in from{};
    from.sin_family = AF_INET;
    from.sin_addr.s_addr = source;
    if (::bind(fd, reinterpret_cast<const sockaddr *>(&from), sizeof from) != 0 ||
        ::connect(fd, reinterpret_cast<const sockaddr *>(&target), sizeof target) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

bool sendAll(int fd, const char *data, size_t size)
{
    while (size > 0) {
        const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        data += n;
        size -= size_t(n);
    }
    return true;
}

struct Answer
{
    int status = 0;
    int64_t length = 0;
    std::string head; // lower-cased
    std::string rest; // body bytes read with the head
};

std::string headerValue(const std::string &head, const std::string &name)
{
    const size_t at = head.find("\r\n" + name + ":");
    if (at == std::string::npos)
        return {};
    size_t from = at + 3 + name.size();
    while (from < head.size() && head[from] == ' ')
        ++from;
    return head.substr(from, head.find("\r\n", from) - from);
}

std::optional<Answer> readHead(int fd)
{
    Answer answer;
    std::string in;
    char chunk[4096];
    size_t end = std::string::npos;
    while ((end = in.find("\r\n\r\n")) == std::string::npos) {
        if (in.size() > 64 * 1024)
            return std::nullopt;
        const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return std::nullopt;
        in.append(chunk, size_t(n));
    }
    answer.head = in.substr(0, end + 2);
    for (char &c : answer.head)
        c = char(std::tolower(static_cast<unsigned char>(c)));
    answer.rest = in.substr(end + 4);
    if (answer.head.compare(0, 5, "http/") != 0)
        return std::nullopt;
    answer.status = std::atoi(answer.head.c_str() + answer.head.find(' ') + 1);
    answer.length = std::strtoll(headerValue(answer.head, "content-length").c_str(), nullptr, 10);
    return answer;
}

// Reads the rest of a body of answer.length bytes, each chunk given to `take`
// (when set); false when the connection ends first.
bool readBody(int fd, const Answer &answer, std::vector<char> &buffer,
              const std::function<void(const char *, size_t)> &take, int64_t *received)
{
    int64_t got = int64_t(std::min<size_t>(answer.rest.size(), size_t(answer.length)));
    if (take && got > 0)
        take(answer.rest.data(), size_t(got));
    while (got < answer.length) {
        const size_t want = size_t(std::min<int64_t>(int64_t(buffer.size()), answer.length - got));
        const ssize_t n = ::recv(fd, buffer.data(), want, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (take)
            take(buffer.data(), size_t(n));
        got += n;
    }
    if (received)
        *received = got;
    return got == answer.length;
}

struct TransferResult
{
    int status = 0;     // the HTTP answer's; 0 when none came
    int64_t bytes = 0;  // body bytes sent (PUT) or received (GET)
    int64_t bodyNs = 0; // PUT: until the last byte was handed to the kernel
    int64_t totalNs = 0;
    std::string sha256Hex; // GET: Kith-Sha256
    std::string error;
};

// Where a transfer keeps its socket, so that another thread can cut it off.
using LiveSocket = std::atomic<int>;

// One PUT of `size` bytes at offset 0, each chunk of the body from `source`.
TransferResult put(const sockaddr_in &target, in_addr_t from, const Credentials &user,
                   const std::string &uploadId, int64_t size,
                   const std::function<ssize_t(int64_t, char *, size_t)> &source,
                   LiveSocket *live = nullptr)
{
    TransferResult result;
    const int64_t start = monoNs();
    const int fd = openConnection(target, from);
    if (fd < 0) {
        result.error = "connect failed";
        return result;
    }
    if (live)
        live->store(fd);
    const std::string head =
        "PUT /v1/uploads/" + uploadId + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
        user.token + "\r\nUpload-Offset: 0\r\nContent-Length: " + std::to_string(size) + "\r\n\r\n";
    std::vector<char> buffer(kChunkBytes);
    bool sent = sendAll(fd, head.data(), head.size());
    while (sent && result.bytes < size) {
        const ssize_t n = source(result.bytes, buffer.data(), buffer.size());
        if (n <= 0) {
            result.error = "reading the file failed";
            sent = false;
            break;
        }
        sent = sendAll(fd, buffer.data(), size_t(n));
        if (sent)
            result.bytes += n;
    }
    result.bodyNs = monoNs() - start;
    // Refused early, kithd answers before the body is in and closes: read it all the same.
    if (const auto answer = readHead(fd)) {
        result.status = answer->status;
        readBody(fd, *answer, buffer, {}, nullptr);
        if (answer->status != 201)
            result.error = "PUT answered " + std::to_string(answer->status) + " " +
                           headerValue(answer->head, "kith-error");
    } else if (result.error.empty()) {
        result.error = "PUT got no answer";
    }
    result.totalNs = monoNs() - start;
    if (live)
        live->store(-1);
    ::close(fd);
    return result;
}

// One GET of a whole file, each chunk of the body given to `take` (when set).
TransferResult get(const sockaddr_in &target, in_addr_t from, const Credentials &user,
                   const std::string &fileId,
                   const std::function<void(const char *, size_t)> &take = {},
                   LiveSocket *live = nullptr)
{
    TransferResult result;
    const int64_t start = monoNs();
    const int fd = openConnection(target, from);
    if (fd < 0) {
        result.error = "connect failed";
        return result;
    }
    if (live)
        live->store(fd);
    const std::string head = "GET /v1/files/" + fileId +
                             " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + user.token +
                             "\r\n\r\n";
    std::vector<char> buffer(kChunkBytes);
    if (!sendAll(fd, head.data(), head.size())) {
        result.error = "GET could not be sent";
    } else if (const auto answer = readHead(fd)) {
        result.status = answer->status;
        result.sha256Hex = headerValue(answer->head, "kith-sha256");
        const bool whole =
            readBody(fd, *answer, buffer, answer->status == 200 ? take : nullptr, &result.bytes);
        if (answer->status != 200)
            result.error = "GET answered " + std::to_string(answer->status) + " " +
                           headerValue(answer->head, "kith-error");
        else if (!whole)
            result.error = "the download ended early";
    } else {
        result.error = "GET got no answer";
    }
    result.totalNs = monoNs() - start;
    if (live)
        live->store(-1);
    ::close(fd);
    return result;
}

// CreateUploadRequest on a setup connection: the ticket, or nullopt with *error.
std::optional<v1::UploadTicket> createUpload(SetupClient &client, int64_t size,
                                             const std::string &sha256, const char *mimeType,
                                             std::string *error)
{
    v1::Envelope env;
    env.mutable_create_upload()->set_size(uint64_t(size));
    env.mutable_create_upload()->set_sha256(sha256);
    env.mutable_create_upload()->set_mime_type(mimeType);
    const auto answer = client.request(env);
    if (!answer || !answer->has_upload_ticket()) {
        *error = answer && answer->has_error()
                     ? "CreateUpload refused: " + v1::ErrorCode_Name(answer->error().code()) + " " +
                           answer->error().message()
                     : std::string("CreateUpload got no answer");
        return std::nullopt;
    }
    return answer->upload_ticket();
}

// A plain copy of the big file over a loopback TCP socket: read and sent
// kChunkBytes at a time, received into a buffer of the same size by a thread
// here and dropped. MiB/s from the connect to the receiver's end of stream.
double plainCopy(const BigFile &file)
{
    const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (listener < 0 ||
        ::bind(listener, reinterpret_cast<const sockaddr *>(&address), sizeof address) != 0 ||
        ::listen(listener, 1) != 0 ||
        ::getsockname(listener, reinterpret_cast<sockaddr *>(&address), &length) != 0) {
        if (listener >= 0)
            ::close(listener);
        return 0;
    }
    int64_t received = 0, endNs = 0;
    std::thread sink([&] {
        const int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0)
            return;
        timeval timeout{kIoTimeoutSeconds, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        std::vector<char> buffer(kChunkBytes);
        ssize_t n = 0;
        while ((n = ::recv(fd, buffer.data(), buffer.size(), 0)) > 0 || (n < 0 && errno == EINTR))
            received += std::max<ssize_t>(n, 0);
        endNs = monoNs();
        ::close(fd);
    });
    const int64_t start = monoNs();
    const int fd = openConnection(address, htonl(INADDR_LOOPBACK));
    if (fd >= 0) {
        std::vector<char> buffer(kChunkBytes);
        int64_t sent = 0;
        while (sent < file.size()) {
            const ssize_t n = file.read(0, sent, buffer.data(), buffer.size());
            if (n <= 0 || !sendAll(fd, buffer.data(), size_t(n)))
                break;
            sent += n;
        }
        ::shutdown(fd, SHUT_WR);
    } else {
        ::shutdown(listener, SHUT_RDWR); // the sink's accept returns
    }
    sink.join();
    if (fd >= 0)
        ::close(fd);
    ::close(listener);
    return received == file.size() ? mibPerSecond(received, endNs - start) : 0.0;
}

// What the disk under kithd's files can take: the big file written into
// the folder that holds them kChunkBytes at a time and made durable (fdatasync), as an upload must
// be before its 201, then removed. MiB/s from the open to the end of the
// sync; 0 when it could not be written, -1 with no folder known.
double diskCopy(const BigFile &file, const std::string &folder)
{
    if (folder.empty())
        return -1;
    const std::string path = folder + "/kith-bench-disk-copy.bin";
    const int64_t start = monoNs();
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return 0;
    std::vector<char> buffer(kChunkBytes);
    int64_t written = 0;
    while (written < file.size()) {
        const ssize_t n = file.read(0, written, buffer.data(), buffer.size());
        if (n <= 0 || ::pwrite(fd, buffer.data(), size_t(n), off_t(written)) != n)
            break;
        written += n;
    }
    const bool synced = ::fdatasync(fd) == 0;
    const int64_t end = monoNs();
    ::close(fd);
    ::unlink(path.c_str());
    return synced && written == file.size() ? mibPerSecond(written, end - start) : 0.0;
}

// kithd's resident set sampled on a thread of its own while it runs.
class RssSampler
{
public:
    explicit RssSampler(pid_t pid)
        : m_pid(pid)
    {
        if (pid <= 0)
            return;
        m_max = residentKiB(pid);
        m_thread = std::thread([this] {
            while (!m_stop.load()) {
                const int64_t kib = residentKiB(m_pid);
                int64_t seen = m_max.load();
                while (kib > seen && !m_max.compare_exchange_weak(seen, kib)) {
                }
                ::usleep(useconds_t(kRssPeriodNs / 1000));
            }
        });
    }
    ~RssSampler() { stop(); }
    int64_t stop()
    {
        m_stop = true;
        if (m_thread.joinable())
            m_thread.join();
        return m_max.load();
    }

private:
    pid_t m_pid;
    std::atomic<int64_t> m_max{-1};
    std::atomic<bool> m_stop{false};
    std::thread m_thread;
};

// -------------------------------------------------------------- part 2

struct ImageTotals
{
    int64_t ok = 0, failed = 0, retries = 0;
    double createSeconds = 0, seconds = 0;
};

ImageTotals uploadImages(const Options &o, const std::vector<Credentials> &users)
{
    ImageTotals totals;
    const size_t count = users.size();
    const int64_t deadline = monoNs() + int64_t(o.deadlineSeconds) * 1'000'000'000;
    // Each client's own bytes, so that none is stored already.
    std::vector<std::string> images(count), sums(count);
    for (size_t i = 0; i < count; ++i) {
        images[i].resize(kImageBytes);
        uint64_t state = seedOf(o.runTag + "-image-" + std::to_string(i));
        fillRandom(images[i].data(), kImageBytes, state);
        std::memcpy(images[i].data(), "\x89PNG\r\n\x1a\n", 8);
        sums[i] =
            Sha256::of(QByteArrayView(images[i].data(), qsizetype(kImageBytes))).toStdString();
    }

    EventLoop loop;
    std::vector<std::unique_ptr<KithSession>> sessions;
    std::vector<std::string> tickets(count), errors(count);
    std::vector<uint32_t> requestIds(count);
    int ready = 0, connectFailed = 0;
    size_t answered = 0;
    for (size_t i = 0; i < count; ++i) {
        sessions.push_back(std::make_unique<KithSession>(loop, users[i]));
        sessions.back()->onReady = [&](KithSession &) { ++ready; };
        sessions.back()->onFailed = [&](KithSession &) { ++connectFailed; };
        sessions.back()->onEnvelope = [&, i](KithSession &, const v1::Envelope &env) {
            if (env.request_id() == 0 || env.request_id() != requestIds[i])
                return;
            ++answered;
            if (env.has_upload_ticket() && !env.upload_ticket().complete() &&
                env.upload_ticket().received() == 0)
                tickets[i] = env.upload_ticket().upload_id();
            else
                errors[i] = env.has_error() ? v1::ErrorCode_Name(env.error().code())
                                            : std::string("unexpected answer");
        };
    }
    connectBounded(
        loop, count, [&](size_t i) { sessions[i]->start(o.target, sourceAddress(i)); }, ready,
        connectFailed, deadline);
    if (size_t(ready) != count) {
        fail("not every image uploader could connect");
        totals.failed = int64_t(count);
        return totals;
    }

    const int64_t start = monoNs();
    for (size_t i = 0; i < count; ++i) {
        v1::Envelope env;
        requestIds[i] = sessions[i]->nextRequestId();
        env.set_request_id(requestIds[i]);
        env.mutable_create_upload()->set_size(kImageBytes);
        env.mutable_create_upload()->set_sha256(sums[i]);
        env.mutable_create_upload()->set_mime_type("image/png");
        sessions[i]->send(env);
    }
    // A session that fails meanwhile never answers: it counts as a failed image.
    loop.runUntil([&] { return answered + size_t(connectFailed) >= count; }, deadline);
    totals.createSeconds = double(monoNs() - start) / 1e9;

    // Every PUT at once, then each client fetches its image back.
    std::mutex mutex;
    std::condition_variable go;
    bool released = false;
    std::atomic<int64_t> ok{0}, failed{0}, retries{0};
    std::vector<std::thread> threads;
    for (size_t i = 0; i < count; ++i) {
        threads.emplace_back([&, i] {
            {
                std::unique_lock lock(mutex);
                go.wait(lock, [&] { return released; });
            }
            if (tickets[i].empty()) {
                fail("image " + std::to_string(i) + ": " + errors[i]);
                ++failed;
                return;
            }
            const std::string &image = images[i];
            const TransferResult up =
                put(o.target, sourceAddress(i), users[i], tickets[i], int64_t(kImageBytes),
                    [&image](int64_t offset, char *out, size_t max) {
                        const size_t n = std::min(max, image.size() - size_t(offset));
                        std::memcpy(out, image.data() + offset, n);
                        return ssize_t(n);
                    });
            if (up.status != 201) {
                fail("image " + std::to_string(i) + ": " + up.error);
                ++failed;
                return;
            }
            for (int attempt = 0;; ++attempt) {
                Sha256 hash;
                const TransferResult down = get(o.target, sourceAddress(i), users[i], tickets[i],
                                                [&hash](const char *data, size_t n) {
                                                    hash.add(QByteArrayView(data, qsizetype(n)));
                                                });
                if (down.status == 503 && attempt < kFetchRetries) {
                    ++retries;
                    ::usleep(200'000);
                    continue;
                }
                if (down.status == 200 && down.bytes == int64_t(kImageBytes) &&
                    hash.result().toStdString() == sums[i]) {
                    ++ok;
                } else {
                    fail("image " + std::to_string(i) + " did not come back whole: " +
                         (down.error.empty() ? "wrong bytes" : down.error));
                    ++failed;
                }
                return;
            }
        });
    }
    {
        std::lock_guard lock(mutex);
        released = true;
    }
    go.notify_all();
    for (std::thread &t : threads)
        t.join();
    totals.ok = ok;
    totals.failed = failed;
    totals.retries = retries;
    totals.seconds = double(monoNs() - start) / 1e9;
    return totals;
}

// -------------------------------------------------------------- part 3

struct TransferLoadTotals
{
    int64_t uploads = 0, downloads = 0, uploadBytes = 0, downloadBytes = 0, errors = 0;
    int64_t rateLimited = 0; // answered 429 and tried again after a pause
    int64_t rssPeakKiB = -1; // kithd's, sampled while they ran
    double seconds = 0;
};

// The big file going up and down at once, over and over, in a worker process
// of its own while the chat runs: each upload is a new variant of it (new
// bytes, stored and fsynced like any file), each download the stored file.
// Stopping cuts the transfers under way, so nothing spills into a quiet run.
class TransferLoad
{
public:
    bool connect(const Options &o, const Credentials &user, const BigFile &file,
                 const std::string &fileId)
    {
        m_deadline = monoNs() + int64_t(o.deadlineSeconds) * 1'000'000'000;
        const bool started = m_pool.start(1, o.deadlineSeconds, [&](WorkerLink &link) {
            if (o.transferNice > 0)
                setpriority(PRIO_PROCESS, 0, o.transferNice);
            SetupClient client(user, o.target);
            const bool ready = client.waitReady();
            link.report({{"ready", ready ? "1" : "0"}});
            if (!ready || link.waitCommand() != 'g')
                return 1;
            std::atomic<bool> stop{false};
            LiveSocket upSocket{-1}, downSocket{-1};
            std::atomic<int64_t> uploads{0}, downloads{0}, upBytes{0}, downBytes{0}, errors{0},
                limited{0};
            const auto counted = [&](const TransferResult &r, bool ok, std::atomic<int64_t> &done,
                                     std::atomic<int64_t> &bytes) {
                bytes += r.bytes;
                if (ok) {
                    ++done;
                } else if (r.status == 429) {
                    // Past the user's transfer budget (a small file goes
                    // round faster than 50 requests a second): a client
                    // waits, as it is told to; not an error.
                    ++limited;
                    ::usleep(kRateLimitedPauseUs);
                } else if (!stop.load()) {
                    fail("transfer under load: " + r.error);
                    ++errors;
                }
            };
            const int64_t start = monoNs();
            std::thread up([&] {
                for (uint64_t variant = 1; !stop.load(); ++variant) {
                    std::string error;
                    const auto ticket = createUpload(client, file.size(), file.sha256(variant),
                                                     "application/octet-stream", &error);
                    if (!ticket && error.find("RATE_LIMITED") != std::string::npos) {
                        ++limited; // as for a 429: wait, as told, and go on
                        ::usleep(kRateLimitedPauseUs);
                        continue;
                    }
                    if (!ticket) {
                        fail(error);
                        ++errors;
                        return;
                    }
                    const TransferResult r = put(
                        o.target, sourceAddress(2), user, ticket->upload_id(), file.size(),
                        [&](int64_t offset, char *out, size_t max) {
                            return file.read(variant, offset, out, max);
                        },
                        &upSocket);
                    counted(r, r.status == 201, uploads, upBytes);
                    if (r.status != 201 && stop.load()) {
                        // Cut off by the stop: dropped, so that it does not
                        // count against the uploads one user may have under way.
                        v1::Envelope cancel;
                        cancel.mutable_cancel_upload()->set_upload_id(ticket->upload_id());
                        (void)client.request(cancel);
                    }
                }
            });
            std::thread down([&] {
                while (!stop.load()) {
                    const TransferResult r =
                        get(o.target, sourceAddress(3), user, fileId, {}, &downSocket);
                    counted(r, r.status == 200 && r.bytes == file.size(), downloads, downBytes);
                }
            });
            link.report({{"running", "1"}});
            // kithd's memory meanwhile, sampled here: the parent forks the
            // chat's workers now and keeps no thread of its own.
            int64_t rssPeak = o.kithdPid > 0 ? residentKiB(o.kithdPid) : -1;
            while (!link.commandPending()) {
                if (o.kithdPid > 0)
                    rssPeak = std::max(rssPeak, residentKiB(o.kithdPid));
                ::usleep(useconds_t(kRssPeriodNs / 1000));
            }
            link.waitCommand();
            stop = true;
            for (LiveSocket *live : {&upSocket, &downSocket}) {
                const int fd = live->load();
                if (fd >= 0)
                    ::shutdown(fd, SHUT_RDWR);
            }
            up.join();
            down.join();
            link.report({{"uploads", std::to_string(uploads.load())},
                         {"downloads", std::to_string(downloads.load())},
                         {"upload_bytes", std::to_string(upBytes.load())},
                         {"download_bytes", std::to_string(downBytes.load())},
                         {"errors", std::to_string(errors.load())},
                         {"rate_limited", std::to_string(limited.load())},
                         {"rss_peak_kib", std::to_string(rssPeak)},
                         {"ns", std::to_string(monoNs() - start)}});
            link.waitCommand();
            return 0;
        });
        const auto connected = started ? m_pool.gather(m_deadline) : std::nullopt;
        return connected && fieldInt(connected->front(), "ready") == 1;
    }

    bool resume()
    {
        m_pool.command('g');
        const auto running = m_pool.gather(m_deadline);
        m_running = running.has_value();
        return running && fieldInt(running->front(), "running") == 1;
    }

    [[nodiscard]] std::optional<TransferLoadTotals> stop()
    {
        if (!m_running)
            return std::nullopt;
        m_running = false;
        m_pool.command('s');
        const auto results = m_pool.gather(m_deadline);
        if (!results)
            return std::nullopt;
        const Fields &f = results->front();
        TransferLoadTotals totals;
        totals.uploads = fieldInt(f, "uploads");
        totals.downloads = fieldInt(f, "downloads");
        totals.uploadBytes = fieldInt(f, "upload_bytes");
        totals.downloadBytes = fieldInt(f, "download_bytes");
        totals.errors = fieldInt(f, "errors");
        totals.rateLimited = fieldInt(f, "rate_limited");
        totals.rssPeakKiB = fieldInt(f, "rss_peak_kib");
        totals.seconds = double(fieldInt(f, "ns")) / 1e9;
        return totals;
    }

    ~TransferLoad()
    {
        if (m_running)
            m_pool.command('s');
        m_pool.command('q');
        m_pool.finish(monoNs() + 10'000'000'000);
    }

private:
    WorkerPool m_pool;
    int64_t m_deadline = 0;
    bool m_running = false;
};

} // namespace

int runFiles(const Options &o)
{
    const int64_t fileBytes = int64_t(o.fileMiB) * 1024 * 1024;
    const auto uploaders = usersFor(o, "bf", std::max(1, o.clients));
    if (!uploaders)
        return 2;
    const auto pairUsers = usersFor(o, "bp", 2 * o.pairs);
    if (!pairUsers)
        return 2;
    const Credentials &owner = uploaders->front();

    // ---- 1. throughput against a plain copy, and kithd's memory meanwhile
    BigFile file;
    const int64_t makeStart = monoNs();
    if (!file.create(fileBytes, o.runTag)) {
        fail("could not write the big file in a temp folder");
        return 2;
    }
    const double makeSeconds = double(monoNs() - makeStart) / 1e9;
    // First: what it leaves for the disk to do settles before the runs that follow.
    const double disk = diskCopy(file, o.kithdFiles);
    const double plainBefore = plainCopy(file);

    std::string error, fileId;
    TransferResult upload, download;
    int64_t rssBefore = -1, rssPeak = -1;
    {
        SetupClient client(owner, o.target);
        if (!client.waitReady()) {
            fail("the uploader could not log in");
            return 2;
        }
        const auto ticket =
            createUpload(client, fileBytes, file.sha256(0), "application/octet-stream", &error);
        if (!ticket || ticket->complete() || ticket->received() != 0) {
            fail(ticket ? "the big file's upload is not new" : error);
            return 2;
        }
        fileId = ticket->upload_id();
        rssBefore = o.kithdPid > 0 ? residentKiB(o.kithdPid) : -1;
        RssSampler rss(o.kithdPid);
        upload = put(o.target, sourceAddress(0), owner, fileId, fileBytes,
                     [&file](int64_t offset, char *out, size_t max) {
                         return file.read(0, offset, out, max);
                     });
        if (upload.status == 201)
            download = get(o.target, sourceAddress(1), owner, fileId);
        rssPeak = rss.stop();
    }
    const int64_t hwm = o.kithdPid > 0 ? statusKiB(o.kithdPid, "VmHWM:") : -1;
    const double plainAfter = plainCopy(file);
    const double plain = std::max(plainBefore, plainAfter);
    const double upMiBs = mibPerSecond(fileBytes, upload.totalNs);
    const double downMiBs = mibPerSecond(download.bytes, download.totalNs);
    const bool downloadWhole =
        download.status == 200 && download.bytes == fileBytes &&
        download.sha256Hex == QByteArray::fromStdString(file.sha256(0)).toHex().toStdString();
    if (upload.status != 201)
        fail("the big upload failed: " + upload.error);
    else if (!downloadWhole)
        fail("the big download failed: " +
             (download.error.empty() ? std::string("wrong length or checksum") : download.error));

    // ---- 2. many small uploads at once
    RssSampler imagesRss(o.kithdPid);
    const ImageTotals images = uploadImages(o, *uploaders);
    const int64_t imagesRssPeak = imagesRss.stop();

    // ---- 3. chat latency without and with the transfers
    // Before, with, and after the transfers: "without" is the run before, as
    // the target states it; the run after shows what the transfers leave
    // behind (the page cache's dirty bytes still going to the disk).
    PairTotals without, with, after;
    std::string phases;
    std::optional<TransferLoadTotals> load;
    bool chatOk = false;
    if (upload.status == 201 && downloadWhole) {
        TransferLoad transfers;
        if (!transfers.connect(o, owner, file, fileId)) {
            fail("the transfer load could not start");
            return 2;
        }
        int runs = 0;
        auto measure = [&](PairTotals &into) {
            const bool loaded = &into == &with;
            Options run = o;
            run.runTag = o.runTag + (loaded ? "l" : "q") + std::to_string(runs++);
            const auto t = runPairs(run, *pairUsers, o.target, false, PairMode::Paced);
            if (!t)
                return false;
            into.add(*t);
            char text[32];
            std::snprintf(text, sizeof text, "%s%c %.2f", phases.empty() ? "" : " ",
                          loaded ? 'l' : 'q', t->latency.percentileMs(0.99));
            phases += text;
            return true;
        };
        chatOk = measure(without);
        if (chatOk && !transfers.resume()) {
            fail("the transfer load did not start");
            chatOk = false;
        }
        chatOk = chatOk && measure(with);
        load = transfers.stop();
        chatOk = chatOk && load && measure(after);
    }

    Report report("files");
    report.setColumns("without transfers", "without", "with transfers", "with");
    report.add("file_mib", int64_t(o.fileMiB));
    report.add("make_file_s", makeSeconds);
    report.add("buffer_kib", int64_t(kChunkBytes / 1024));
    report.add("plain_before_mib_s", plainBefore);
    report.add("plain_after_mib_s", plainAfter);
    report.add("plain_mib_s", plain);
    report.add("upload_status", int64_t(upload.status));
    report.add("upload_body_s", double(upload.bodyNs) / 1e9);
    report.add("upload_body_mib_s", mibPerSecond(upload.bytes, upload.bodyNs));
    report.add("upload_s", double(upload.totalNs) / 1e9);
    report.add("upload_mib_s", upMiBs);
    report.add("upload_ratio", plain > 0 ? upMiBs / plain : 0.0);
    report.add("disk_copy_mib_s", disk);
    report.add("upload_per_disk", disk > 0 ? upMiBs / disk : -1.0);
    report.add("download_status", int64_t(download.status));
    report.add("download_whole", int64_t(downloadWhole ? 1 : 0));
    report.add("download_s", double(download.totalNs) / 1e9);
    report.add("download_mib_s", downMiBs);
    report.add("download_ratio", plain > 0 ? downMiBs / plain : 0.0);
    report.add("rss_before_kib", rssBefore);
    report.add("rss_peak_kib", rssPeak);
    report.add("vmhwm_kib", hwm);
    report.add("images", int64_t(uploaders->size()));
    report.add("images_ok", images.ok);
    report.add("images_failed", images.failed);
    report.add("images_fetch_retries", images.retries);
    report.add("images_create_s", images.createSeconds);
    report.add("images_s", images.seconds);
    report.add("images_rss_peak_kib", imagesRssPeak);
    report.add("pairs", int64_t(o.pairs));
    report.add("offered_per_s", o.rate);
    report.add("transfer_nice", int64_t(o.transferNice));
    report.addBoth("sent", "", without.sent, with.sent);
    report.addBoth("delivered", "", without.delivered, with.delivered);
    report.addBoth("lost", "", without.lost, with.lost);
    report.addBoth("duplicates", "", without.duplicates, with.duplicates);
    report.addBoth("reordered", "", without.reordered, with.reordered);
    report.addBoth("errors", "", without.errors + without.failed, with.errors + with.failed);
    report.addBoth("p50", "_ms", without.latency.percentileMs(0.50),
                   with.latency.percentileMs(0.50));
    report.addBoth("p99", "_ms", without.latency.percentileMs(0.99),
                   with.latency.percentileMs(0.99));
    report.addBoth("max", "_ms", without.latency.maxMs(), with.latency.maxMs());
    const double p99Without = without.latency.percentileMs(0.99);
    report.add("p99_ratio", p99Without > 0 ? with.latency.percentileMs(0.99) / p99Without : 0.0);
    report.add("p99_runs", phases);
    report.add("lost_after", after.lost);
    report.add("duplicates_after", after.duplicates);
    report.add("reordered_after", after.reordered);
    report.add("errors_after", after.errors + after.failed);
    report.add("p50_after_ms", after.latency.percentileMs(0.50));
    report.add("p99_after_ms", after.latency.percentileMs(0.99));
    const TransferLoadTotals loaded = load.value_or(TransferLoadTotals{});
    report.add("load_uploads", loaded.uploads);
    report.add("load_downloads", loaded.downloads);
    report.add("load_upload_mib_s",
               mibPerSecond(loaded.uploadBytes, int64_t(loaded.seconds * 1e9)));
    report.add("load_download_mib_s",
               mibPerSecond(loaded.downloadBytes, int64_t(loaded.seconds * 1e9)));
    report.add("load_errors", loaded.errors);
    report.add("load_rate_limited", loaded.rateLimited);
    report.add("load_rss_peak_kib", load ? loaded.rssPeakKiB : int64_t(-1));
    report.print();

    const bool transfersOk = upload.status == 201 && downloadWhole;
    const bool imagesOk = images.failed == 0 && images.ok == int64_t(uploaders->size());
    const bool loadOk = load && loaded.errors == 0 && loaded.uploadBytes + loaded.downloadBytes > 0;
    return transfersOk && imagesOk && chatOk && loadOk && without.clean() && with.clean() &&
                   after.clean()
               ? 0
               : 1;
}

} // namespace kith::bench
