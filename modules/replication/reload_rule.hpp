// The replication section's reload rule (control/config/reload_plan): the section needs a
// restart, but for its two key files, which every reload reads again and applies, so that a key
// rotation needs no restart (README, "Rotating the replication key").
#pragma once

#include <optional>
#include <utility>

#include "control/config/model.hpp"

namespace lb::control::config::replication {

// The section without its key files: compared, and restored to its running value, as a whole
// but for those two paths (and their places in the file).
template <typename Section> struct BesideKeys {
    Section& section; // std::optional<Replication>, const or not

    static std::optional<Replication> without_keys(const std::optional<Replication>& s) {
        if (!s)
            return s;
        Replication copy = *s;
        copy.key_file.clear();
        copy.previous_key_file.clear();
        return copy;
    }

    template <typename Other> bool operator==(const BesideKeys<Other>& o) const {
        return without_keys(section) == without_keys(o.section);
    }

    // The running section, with the file's keys when both have the section.
    template <typename Other> BesideKeys& operator=(const BesideKeys<Other>& running) {
        std::optional<Replication> kept = running.section;
        if (kept && section) {
            kept->key_file = section->key_file;
            kept->key_file_location = section->key_file_location;
            kept->previous_key_file = section->previous_key_file;
            kept->previous_key_file_location = section->previous_key_file_location;
        }
        section = std::move(kept);
        return *this;
    }
};

} // namespace lb::control::config::replication
