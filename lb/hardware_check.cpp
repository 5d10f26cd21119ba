#include "lb/hardware_check.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <fmt/format.h>

#include "lb/eal_arguments.hpp"

namespace lb::app {

namespace fs = std::filesystem;
using Level = HardwareFinding::Level;

namespace {

// Drivers DPDK's PCI poll-mode drivers work through. mlx4/mlx5 are bifurcated: they run on top
// of their kernel driver, which must stay bound.
const std::vector<std::string> dpdk_drivers = {"vfio-pci", "uio_pci_generic", "igb_uio"};
const std::vector<std::string> bifurcated_drivers = {"mlx5_core", "mlx4_core"};

std::string read_text(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    std::string text = s.str();
    while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
        text.pop_back();
    return text;
}

bool has(const std::vector<std::string>& args, const std::string& flag) {
    return std::find(args.begin(), args.end(), flag) != args.end();
}

bool contains(const std::vector<std::string>& list, const std::string& item) {
    return std::find(list.begin(), list.end(), item) != list.end();
}

// A PCI address as sysfs names it (domain included), or "" for a virtual device's name.
std::string pci_address(const std::string& device) {
    static const std::regex full("[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\\.[0-7]");
    static const std::regex short_form("[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\\.[0-7]");
    std::string lower = device;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (std::regex_match(lower, full))
        return lower;
    if (std::regex_match(lower, short_form))
        return "0000:" + lower;
    return "";
}

class Checker {
  public:
    Checker(const control::config::Config& config, std::vector<std::string> eal_args,
            const std::string& root)
        : config_(config), eal_(std::move(eal_args)), root_(root.empty() ? "/" : root) {}

    std::vector<HardwareFinding> run() {
        hugepages();
        hugetlbfs();
        bool any_pci = false;
        for (const auto& interface : config_.interfaces)
            any_pci = device(interface) || any_pci;
        if (any_pci)
            iommu();
        cpus();
        return std::move(found_);
    }

  private:
    fs::path at(const std::string& absolute) const { return root_ / absolute.substr(1); }
    void ok(std::string text) { found_.push_back({Level::ok, std::move(text)}); }
    void note(std::string text) { found_.push_back({Level::note, std::move(text)}); }
    void missing(std::string text) { found_.push_back({Level::missing, std::move(text)}); }

    void hugepages() {
        if (has(eal_, "--no-huge"))
            return note("hugepages: not used (--no-huge in the EAL arguments; for tests only, "
                        "slower and no physical addresses for NICs)");
        const fs::path dir = at("/sys/kernel/mm/hugepages");
        std::error_code ec;
        if (!fs::is_directory(dir, ec))
            return missing(fmt::format("hugepages: this kernel has no hugepage support ({} is "
                                       "missing); DPDK needs a kernel with CONFIG_HUGETLBFS",
                                       dir.string()));
        unsigned long total = 0, free = 0, free_kib = 0;
        for (const auto& entry : fs::directory_iterator(dir, ec)) {
            const std::string name = entry.path().filename().string(); // hugepages-2048kB
            const unsigned long kib = std::strtoul(name.c_str() + name.find('-') + 1, nullptr, 10);
            const unsigned long n =
                std::strtoul(read_text(entry.path() / "nr_hugepages").c_str(), nullptr, 10);
            const unsigned long f =
                std::strtoul(read_text(entry.path() / "free_hugepages").c_str(), nullptr, 10);
            total += n;
            free += f;
            free_kib += f * kib;
        }
        if (total == 0)
            return missing("hugepages: none reserved. Now: echo 512 > /proc/sys/vm/nr_hugepages "
                           "(512 x 2 MiB); at every boot: NR_2M_PAGES=512 in "
                           "/etc/dpdk/dpdk.conf (Debian's dpdk.service reserves them) or "
                           "hugepages=512 on the kernel command line");
        if (free == 0)
            return missing(fmt::format("hugepages: all {} reserved hugepages are in use (another "
                                       "DPDK process, or files left in a hugetlbfs mount: run lb "
                                       "with --in-memory or --huge-unlink); reserve more in "
                                       "/proc/sys/vm/nr_hugepages",
                                       total));
        ok(fmt::format("hugepages: {} of {} free ({} MiB)", free, total, free_kib / 1024));
    }

    void hugetlbfs() {
        if (has(eal_, "--no-huge"))
            return;
        if (has(eal_, "--in-memory"))
            return ok("hugetlbfs: no mount needed (--in-memory)");
        const std::string mounts = read_text(at("/proc/mounts"));
        std::istringstream lines(mounts);
        for (std::string line; std::getline(lines, line);) {
            std::istringstream words(line);
            std::string what, where, type;
            words >> what >> where >> type;
            if (type == "hugetlbfs")
                return ok("hugetlbfs: mounted on " + where);
        }
        missing("hugetlbfs: not mounted. Now: mkdir -p /dev/hugepages && mount -t hugetlbfs "
                "nodev /dev/hugepages (systemd's dev-hugepages.mount does it at boot), or add "
                "--in-memory to dpdk.eal_args");
    }

    // Returns true for a PCI device (the IOMMU matters then).
    bool device(const control::config::Interface& interface) {
        const std::string address = pci_address(interface.device);
        if (address.empty()) {
            ok(fmt::format("interface {}: {} is a virtual device (no binding needed)",
                           interface.name, interface.device));
            return false;
        }
        const fs::path dev = at("/sys/bus/pci/devices/" + address);
        std::error_code ec;
        if (!fs::exists(dev, ec)) {
            needs_vfio_ = true;
            missing(fmt::format("interface {}: no PCI device {} on this box; list them with "
                                "dpdk-devbind.py --status (or lspci -D)",
                                interface.name, address));
            return true;
        }
        const fs::path driver_link = dev / "driver";
        const std::string driver = fs::is_symlink(driver_link, ec)
                                       ? fs::read_symlink(driver_link, ec).filename().string()
                                       : "";
        const std::string bind = fmt::format("dpdk-devbind.py --bind=vfio-pci {}", address);
        const std::string at_boot = fmt::format(
            "; at every boot: the line 'pci {} vfio-pci' in /etc/dpdk/interfaces (Debian's "
            "dpdk.service binds it)",
            address);
        if (driver.empty()) {
            needs_vfio_ = true;
            missing(fmt::format("interface {}: PCI device {} is bound to no driver. Bind it: "
                                "modprobe vfio-pci && {}{}",
                                interface.name, address, bind, at_boot));
        } else if (contains(dpdk_drivers, driver)) {
            ok(fmt::format("interface {}: PCI device {} is bound to {}", interface.name, address,
                           driver));
            vfio_loaded_ = vfio_loaded_ || driver == "vfio-pci";
            (driver == "vfio-pci" ? needs_vfio_ : uses_uio_) = true;
        } else if (contains(bifurcated_drivers, driver)) {
            ok(fmt::format("interface {}: PCI device {} stays on its kernel driver {} (DPDK's "
                           "mlx PMDs work through it)",
                           interface.name, address, driver));
        } else {
            needs_vfio_ = true;
            std::string netdev;
            for (const auto& e : fs::directory_iterator(dev / "net", ec))
                netdev = e.path().filename().string();
            missing(fmt::format(
                "interface {}: PCI device {} is bound to the kernel driver {}{}, not to a DPDK "
                "driver. Bind it (the kernel loses the interface): {}modprobe vfio-pci && {}{}",
                interface.name, address, driver,
                netdev.empty() ? "" : fmt::format(" (kernel interface {})", netdev),
                netdev.empty() ? "" : fmt::format("ip link set {} down && ", netdev), bind,
                at_boot));
        }
        return true;
    }

    void iommu() {
        std::error_code ec;
        if (!needs_vfio_) {
            if (uses_uio_)
                note("iommu: not needed by uio drivers, but they give no DMA protection; "
                     "vfio-pci with the IOMMU on is safer");
            return;
        }
        if (!fs::exists(at("/sys/bus/pci/drivers/vfio-pci"), ec) && !vfio_loaded_)
            missing("vfio-pci: the driver is not loaded. Now: modprobe vfio-pci; at boot: "
                    "echo vfio-pci > /etc/modules-load.d/vfio-pci.conf");
        const fs::path groups = at("/sys/kernel/iommu_groups");
        if (fs::is_directory(groups, ec) && !fs::is_empty(groups, ec))
            return ok("iommu: on (vfio-pci can use it)");
        if (read_text(at("/sys/module/vfio/parameters/enable_unsafe_noiommu_mode")) == "Y")
            return note("iommu: off, vfio runs in unsafe no-IOMMU mode (no DMA protection)");
        missing("iommu: off, and vfio-pci needs it. Turn it on in the firmware (VT-d / AMD-Vi) "
                "and on the kernel command line: intel_iommu=on iommu=pt (Intel) or iommu=pt "
                "(AMD) in GRUB_CMDLINE_LINUX of /etc/default/grub, then update-grub and reboot; "
                "or, without DMA protection, echo 1 > "
                "/sys/module/vfio/parameters/enable_unsafe_noiommu_mode");
    }

    void cpus() {
        const std::string isolated = read_text(at("/sys/devices/system/cpu/isolated"));
        const bool pinned = has(eal_, "-l") || has(eal_, "--lcores") ||
                            std::any_of(eal_.begin(), eal_.end(), [](const std::string& a) {
                                return a.rfind("-l", 0) == 0 || a.rfind("--lcores=", 0) == 0;
                            });
        const unsigned workers = config_.dpdk.workers;
        if (isolated.empty())
            note(fmt::format("cpus: none isolated. For {} dedicated worker core(s), boot with "
                             "isolcpus=LIST nohz_full=LIST rcu_nocbs=LIST and pin the lcores "
                             "with -l in dpdk.eal_args (the main lcore first, on a housekeeping "
                             "CPU), with idle_backoff: false",
                             workers));
        else
            ok(fmt::format("cpus: isolated {}{}", isolated,
                           pinned ? " (lcores pinned by -l/--lcores in the EAL arguments)"
                                  : "; pin the workers there with -l in dpdk.eal_args"));
        const std::size_t usable = allowed_cpus().size();
        if (usable < workers + 1)
            note(fmt::format("cpus: {} usable by this process for {} worker(s) plus the control "
                             "thread: they will share cores",
                             usable, workers));
    }

    const control::config::Config& config_;
    std::vector<std::string> eal_;
    fs::path root_;
    std::vector<HardwareFinding> found_;
    bool vfio_loaded_ = false;
    bool needs_vfio_ = false; // a device is, or is to be, bound to vfio-pci
    bool uses_uio_ = false;
};

} // namespace

std::vector<HardwareFinding> check_hardware(const control::config::Config& config,
                                            const std::vector<std::string>& eal_args,
                                            const std::string& root) {
    return Checker(config, eal_args, root).run();
}

int print_hardware_findings(const std::vector<HardwareFinding>& findings) {
    int status = 0;
    for (const auto& f : findings) {
        const char* label = f.level == Level::ok     ? "ok:     "
                            : f.level == Level::note ? "note:   "
                                                     : "missing:";
        fmt::print("{} {}\n", label, f.text);
        if (f.level == Level::missing)
            status = 1;
    }
    if (status)
        fmt::print("lb: this box cannot run the configuration yet: fix each 'missing' line\n");
    else
        fmt::print("lb: nothing missing for this configuration\n");
    return status;
}

} // namespace lb::app
