// The local admin socket lbctl talks to: a Unix stream socket only root can open (mode 0600 in
// a 0700 directory). One request line per connection; the answer is "ok", "error" (refused) or
// "usage" (malformed request) on the first line, then the body. Served from the control thread's
// event loop: a slow or silent client cannot block it (reads are asynchronous and time out).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

namespace lb::control {

struct AdminAnswer {
    bool ok = true;
    std::string body;
    bool usage = false; // a malformed request (lbctl exits 2), not a refusal (1)
};

// Throws std::runtime_error, with what to do, if a live lb answers on `path` (the default path
// is shared by every lb on a host, across network namespaces too). Called before anything
// else starts, so a second lb fails at once and touches no port; the constructor below checks
// again when it binds.
void check_admin_socket_free(const std::string& path);

class AdminSocket {
  public:
    // Answers a request through `respond`, at once or later (a reload answers once the file is
    // read off the loop); `respond` must be called exactly once, on the loop.
    using Respond = std::function<void(AdminAnswer)>;
    using Handler = std::function<void(const std::string& request, Respond respond)>;

    // Throws std::runtime_error if the socket cannot be created (e.g. another lb holds it).
    AdminSocket(boost::asio::io_context& io, std::string path, Handler handler);
    ~AdminSocket();

    const std::string& path() const { return path_; }

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    std::string path_;
};

} // namespace lb::control
