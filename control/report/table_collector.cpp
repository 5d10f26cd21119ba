#include "control/report/table_collector.hpp"

namespace lb::control::report {

using namespace lb::dataplane;

void TableCollector::tick(std::uint32_t now, std::uint32_t fraction) {
    ConnectionTable& connections = *ctx_.connections;
    PersistenceTable& templates = *ctx_.templates;
    const std::uint32_t conn_budget = connections.capacity() / fraction + 1;
    connection_cursor_ =
        connections.collect(connection_cursor_, conn_budget, now, [&](const Connection& c) {
            if (on_expired)
                on_expired(connections.index_of(c), c);
            if (release_attachments(ctx_, c)) // not an FTP announcement
                ++expired_connections_;
        });
    connections.reclaim();
    if (ctx_.ftp_states)
        ctx_.ftp_states->reclaim();
    template_cursor_ =
        templates.collect(template_cursor_, templates.capacity() / fraction + 1, now);
    templates.reclaim();
}

void TableCollector::sweep_all(std::uint32_t now) {
    tick(now, 1);
}

} // namespace lb::control::report
