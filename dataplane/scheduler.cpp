#include "dataplane/scheduler.hpp"

#include "dataplane/maglev_table.hpp"

namespace lb::dataplane {

std::uint32_t maglev_hash(SchedulerKind kind, const FlowKey& key) {
    std::uint64_t material = key.src_ip;
    if (kind == SchedulerKind::mh)
        material |= std::uint64_t{key.src_port} << 32;
    return static_cast<std::uint32_t>(mix64(material));
}

namespace {

int round_robin(const Snapshot& s, const ServiceEntry& svc, SchedulerCursors::Cursor& c) {
    const auto n = static_cast<std::int32_t>(svc.members.size());
    for (std::int32_t tries = 0; tries < n; ++tries) {
        c.index = (c.index + 1) % n;
        const int rs = svc.members[c.index];
        if (s.real_servers[rs].available())
            return rs;
    }
    return no_real_server;
}

// Interleaved weighted round-robin as in IPVS: walk the servers repeatedly, lowering the
// current-weight threshold by the weights' gcd each pass.
int weighted_round_robin(const Snapshot& s, const ServiceEntry& svc, SchedulerCursors::Cursor& c) {
    if (svc.max_weight == 0)
        return no_real_server;
    const auto n = static_cast<std::uint32_t>(svc.members.size());
    // Bounded: at most max_weight / gcd passes over n servers.
    for (std::uint64_t step = 0; step < std::uint64_t{n} * (svc.max_weight / svc.weight_gcd + 1);
         ++step) {
        c.index = (c.index + 1) % static_cast<std::int32_t>(n);
        if (c.index == 0) {
            c.current_weight -= svc.weight_gcd;
            if (c.current_weight <= 0)
                c.current_weight = svc.max_weight;
        }
        const int rs = svc.members[c.index];
        if (s.real_servers[rs].available() && s.real_servers[rs].weight >= c.current_weight)
            return rs;
    }
    return no_real_server;
}

int least_connections(const Snapshot& s, const ServiceEntry& svc, const RealServerLoad& load,
                      bool weighted) {
    int best = no_real_server;
    std::int64_t best_load = 0;
    std::int64_t best_weight = 1;
    for (const std::uint16_t rs : svc.members) {
        const auto& e = s.real_servers[rs];
        if (!e.available())
            continue;
        const std::int64_t l = load.get(static_cast<std::uint16_t>(rs));
        const std::int64_t w = weighted ? e.weight : 1;
        // l / w < best_load / best_weight without division.
        if (best == no_real_server || l * best_weight < best_load * w) {
            best = rs;
            best_load = l;
            best_weight = w;
        }
    }
    return best;
}

} // namespace

int schedule(const Snapshot& s, std::uint16_t service, const FlowKey& key,
             SchedulerCursors& cursors, const RealServerLoad& load) {
    const ServiceEntry& svc = s.services[service];
    if (svc.members.empty())
        return no_real_server;
    auto& cursor = cursors.cursors[service];
    switch (svc.scheduler) {
    case SchedulerKind::rr:
        return round_robin(s, svc, cursor);
    case SchedulerKind::wrr:
        return weighted_round_robin(s, svc, cursor);
    case SchedulerKind::lc:
        return least_connections(s, svc, load, false);
    case SchedulerKind::wlc:
        return least_connections(s, svc, load, true);
    case SchedulerKind::sh:
    case SchedulerKind::mh: {
        if (svc.maglev.empty())
            return no_real_server;
        const std::uint16_t rs = svc.maglev[maglev_hash(svc.scheduler, key) % svc.maglev.size()];
        return rs == maglev_no_backend ? no_real_server : rs;
    }
    }
    return no_real_server;
}

} // namespace lb::dataplane
