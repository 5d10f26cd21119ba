#include "lb/app.hpp"

#include <chrono>
#include <memory>
#include <stdexcept>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "control/neighbour_resolver.hpp"
#include "control/snapshot_builder.hpp"
#include "control/stats_report.hpp"
#include "control/table_collector.hpp"
#include "control/value_parsers.hpp"
#include "dataplane/worker.hpp"
#include "lb/eal_arguments.hpp"
#include "lb/ports.hpp"

namespace lb::app {

namespace {

using namespace lb::dataplane;

void initialise_eal(const config::Config& config, const std::vector<std::string>& extra) {
    std::vector<std::string> args =
        eal_arguments(config.dpdk.eal_args, extra, config.dpdk.workers, allowed_cpus());
    std::vector<char*> argv;
    for (auto& a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    if (rte_eal_init(static_cast<int>(args.size()), argv.data()) < 0)
        throw std::runtime_error(fmt::format("DPDK EAL initialisation failed: {} (EAL arguments "
                                             "come from dpdk.eal_args and after --)",
                                             rte_strerror(rte_errno)));
    const unsigned lcores = rte_lcore_count();
    if (lcores < config.dpdk.workers + 1)
        throw std::runtime_error(fmt::format("dpdk.workers is {} but the EAL has {} lcores; it "
                                             "needs {} (the main lcore plus one per worker)",
                                             config.dpdk.workers, lcores, config.dpdk.workers + 1));
}

int launch_worker(void* arg) {
    return static_cast<Worker*>(arg)->run();
}

bool any_nat(const config::Config& c) {
    for (const auto& s : c.services)
        if (s.forwarding == config::Forwarding::nat)
            return true;
    return false;
}

struct RcuDeleter {
    void operator()(rte_rcu_qsbr* v) const { rte_free(v); }
};

// Everything that lives between EAL initialisation and cleanup, destroyed in reverse order.
class Balancer {
  public:
    Balancer(const config::Config& config) : config_(config) {
        const unsigned workers = config.dpdk.workers;
        const unsigned mbufs = std::max(
            8191u, 4096u * workers * static_cast<unsigned>(config.interfaces.size()) + 2047u);
        pool_ = rte_pktmbuf_pool_create("mbufs", mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                        static_cast<int>(rte_socket_id()));
        if (!pool_)
            throw std::runtime_error(fmt::format("cannot create the packet buffer pool: {} "
                                                 "(reserve hugepages or pass --no-huge -m 512)",
                                                 rte_strerror(rte_errno)));
        const std::size_t rcu_size = rte_rcu_qsbr_get_memsize(workers);
        rcu_.reset(static_cast<rte_rcu_qsbr*>(rte_zmalloc("rcu", rcu_size, RTE_CACHE_LINE_SIZE)));
        if (!rcu_ || rte_rcu_qsbr_init(rcu_.get(), workers) != 0)
            throw std::runtime_error("cannot set up RCU");
        const int socket = static_cast<int>(rte_socket_id());
        connections_ = std::make_unique<ConnectionTable>(config.tables.connections, any_nat(config),
                                                         rcu_.get(), socket);
        templates_ = std::make_unique<PersistenceTable>(config.tables.persistence_templates,
                                                        rcu_.get(), socket);
        ftp_states_ =
            std::make_unique<FtpStateTable>(config.tables.ftp_sessions, rcu_.get(), socket);
        control_tx_ = rte_ring_create("control_tx", 1024, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
        if (!control_tx_)
            throw std::runtime_error("cannot create the control ring");
        ports_ = start_ports(config, workers, pool_);
        snapshot_ = control::build_snapshot(config, ports_, neighbours_, registry_, nullptr, 1);
        context_.snapshot.store(snapshot_.get(), std::memory_order_release);
        context_.connections = connections_.get();
        context_.templates = templates_.get();
        context_.ftp_states = ftp_states_.get();
        context_.neighbours = &neighbours_;
        context_.load = &load_;
        context_.rcu = rcu_.get();
        context_.control_tx = control_tx_;
        context_.workers = workers;
        context_.idle_backoff = config.dpdk.idle_backoff;
        for (unsigned i = 0; i < workers; ++i) {
            counters_.push_back(std::make_unique<WorkerCounters>());
            workers_.push_back(std::make_unique<Worker>(context_, i, *counters_.back()));
        }
    }

    ~Balancer() {
        stop_workers();
        stop_ports(ports_);
        if (control_tx_) {
            void* m;
            while (rte_ring_dequeue(control_tx_, &m) == 0)
                rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
            rte_ring_free(control_tx_);
        }
        connections_.reset();
        templates_.reset();
        ftp_states_.reset();
        rte_mempool_free(pool_);
    }

    void start_workers() {
        unsigned lcore;
        std::size_t i = 0;
        RTE_LCORE_FOREACH_WORKER(lcore) {
            if (i == workers_.size())
                break;
            if (rte_eal_remote_launch(launch_worker, workers_[i].get(), lcore) != 0)
                throw std::runtime_error(
                    fmt::format("cannot launch worker {} on lcore {}", i, lcore));
            ++i;
        }
        launched_ = true;
    }

    void stop_workers() {
        if (!launched_)
            return;
        context_.stop.store(true, std::memory_order_relaxed);
        rte_eal_mp_wait_lcore();
        launched_ = false;
    }

    void write_stats() {
        if (config_.stats.file.empty())
            return;
        std::vector<const WorkerCounters*> views;
        for (const auto& c : counters_)
            views.push_back(c.get());
        try {
            control::write_file_atomically(
                config_.stats.file,
                control::render_stats_json(config_, registry_, views, context_));
        } catch (const std::exception& e) {
            fmt::print(stderr, "lb: warning: stats: {}\n", e.what());
        }
    }

    DataplaneContext& context() { return context_; }
    rte_mempool* pool() { return pool_; }
    const std::vector<control::PortBinding>& ports() const { return ports_; }

  private:
    const config::Config& config_;
    rte_mempool* pool_ = nullptr;
    std::unique_ptr<rte_rcu_qsbr, RcuDeleter> rcu_;
    std::unique_ptr<ConnectionTable> connections_;
    std::unique_ptr<PersistenceTable> templates_;
    std::unique_ptr<FtpStateTable> ftp_states_;
    NeighbourTable neighbours_;
    control::IdentityRegistry registry_;
    RealServerLoad load_;
    rte_ring* control_tx_ = nullptr;
    std::vector<control::PortBinding> ports_;
    std::unique_ptr<Snapshot> snapshot_;
    DataplaneContext context_;
    std::vector<std::unique_ptr<WorkerCounters>> counters_;
    std::vector<std::unique_ptr<Worker>> workers_;
    bool launched_ = false;
};

std::string describe_mac(const rte_ether_addr& m) {
    return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m.addr_bytes[0],
                       m.addr_bytes[1], m.addr_bytes[2], m.addr_bytes[3], m.addr_bytes[4],
                       m.addr_bytes[5]);
}

void control_loop(Balancer& balancer, const config::Config& config) {
    boost::asio::io_context io;
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int signal) {
        if (!ec)
            fmt::print(stderr, "lb: {} received, shutting down\n", strsignal(signal));
        io.stop();
    });
    control::TableCollector collector(balancer.context());
    control::NeighbourResolver resolver(balancer.context(), balancer.pool());
    const auto tick = std::chrono::milliseconds(100);
    boost::asio::steady_timer housekeeping(io);
    std::function<void()> schedule_housekeeping = [&] {
        housekeeping.expires_after(tick);
        housekeeping.async_wait([&](const boost::system::error_code& ec) {
            if (ec)
                return;
            const std::uint32_t now = balancer.context().clock.now_ms();
            collector.tick(now);
            resolver.tick(now);
            schedule_housekeeping();
        });
    };
    boost::asio::steady_timer stats_timer(io);
    std::function<void()> schedule_stats = [&] {
        stats_timer.expires_after(config.stats.interval);
        stats_timer.async_wait([&](const boost::system::error_code& ec) {
            if (ec)
                return;
            balancer.write_stats();
            schedule_stats();
        });
    };
    resolver.tick(balancer.context().clock.now_ms());
    schedule_housekeeping();
    schedule_stats();
    io.run();
}

} // namespace

int run(const config::Config& config, const std::string& config_path,
        const std::vector<std::string>& extra_eal_args) {
    initialise_eal(config, extra_eal_args);
    int status = 0;
    try {
        Balancer balancer(config);
        for (std::size_t i = 0; i < config.interfaces.size(); ++i)
            fmt::print(stderr, "lb: interface {} on {} (port {}, {}), {}/{}\n",
                       config.interfaces[i].name, config.interfaces[i].device,
                       balancer.ports()[i].port_id, describe_mac(balancer.ports()[i].mac),
                       config::format_ipv4(config.interfaces[i].address),
                       config.interfaces[i].prefix_length);
        balancer.start_workers();
        fmt::print(stderr, "lb: {} forwarding with {} worker(s), {} service(s) from {}\n",
                   config.node_name, config.dpdk.workers, config.services.size(), config_path);
        balancer.write_stats();
        control_loop(balancer, config);
        balancer.stop_workers();
        balancer.write_stats();
    } catch (const std::exception& e) {
        fmt::print(stderr, "lb: error: {}\n", e.what());
        status = 1;
    }
    rte_eal_cleanup();
    if (status == 0)
        fmt::print(stderr, "lb: stopped cleanly\n");
    return status;
}

} // namespace lb::app
