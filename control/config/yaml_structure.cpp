#include "control/config/yaml_structure.hpp"

#include <algorithm>
#include <cstdint>
#include <sstream>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>
#include <yaml-cpp/emitterstyle.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

#include "control/config/limits.hpp"

namespace lb::control::config {

namespace {

// Node counts saturate here, far above any limit, so that nested aliases cannot overflow them.
constexpr std::uint64_t saturated = std::uint64_t{1} << 62;

std::uint64_t add(std::uint64_t a, std::uint64_t b) {
    return std::min(saturated, a + b);
}

class StructureCheck : public YAML::EventHandler {
  public:
    explicit StructureCheck(Diagnostics& out) : out_(out) {}

    void OnDocumentStart(const YAML::Mark& mark) override {
        // yaml-cpp 0.7 starts an empty document at a stray top-level ',' without consuming it,
        // forever (a file holding only "," hung `lb --check`; found by fuzzing). A document
        // starting where the previous one did is that loop: report it and stop.
        if (documents_ > 0 && mark.pos == last_document_pos_) {
            stuck_ = true;
            error(mark, "YAML syntax error: unexpected character at the top level");
            return;
        }
        last_document_pos_ = mark.pos;
        if (++documents_ == 2)
            error(mark, "a second YAML document: the configuration is one document (remove "
                        "this '---' and what follows, or merge it into the first)");
        anchors_.clear(); // anchors are numbered per document
    }
    void OnDocumentEnd() override {}

    void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
        node(mark, nullptr, anchor, 1);
    }
    void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
        // The alias stands for its anchor's whole subtree: that is what the readers will walk.
        const auto it = anchors_.find(anchor);
        const std::uint64_t size = it == anchors_.end() ? 1 : it->second;
        node(mark, nullptr, 0, size);
        alias_nodes_ = add(alias_nodes_, size);
        if (alias_nodes_ > max_alias_nodes && !alias_reported_) {
            alias_reported_ = true;
            error(mark, fmt::format("aliases expand the document by more than {} nodes",
                                    max_alias_nodes));
        }
    }
    void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  const std::string& value) override {
        std::size_t bad_at = 0;
        if (!valid_utf8(value, bad_at))
            error(mark, fmt::format("not valid UTF-8 (byte {} of the value is 0x{:02x})",
                                    bad_at + 1, static_cast<unsigned char>(value[bad_at])));
        else if (value.size() > max_value_bytes)
            error(mark, fmt::format("a value of {} bytes; at most {} are allowed", value.size(),
                                    max_value_bytes));
        node(mark, &value, anchor, 1);
    }
    void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                         YAML::EmitterStyle::value) override {
        node(mark, nullptr, 0, 0);
        open_.push_back({false, false, {}, 1, anchor});
    }
    void OnSequenceEnd() override { close(); }
    void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                    YAML::EmitterStyle::value) override {
        node(mark, nullptr, 0, 0);
        open_.push_back({true, true, {}, 1, anchor});
    }
    void OnMapEnd() override { close(); }

  private:
    struct Collection {
        bool map = false;
        bool next_is_key = false;                         // maps alternate key, value
        std::unordered_map<std::string, YAML::Mark> keys; // scalar keys seen, where first
        std::uint64_t size = 1;                           // nodes, aliases expanded
        YAML::anchor_t anchor = 0;
    };

    void error(const YAML::Mark& mark, std::string message) {
        out_.push_back({location_of(mark), std::move(message)});
    }

    // A node starts inside the innermost open collection: a key or value of a map, or an item.
    // `size` is what it adds to its parent now (a collection adds its own when it closes).
    void node(const YAML::Mark& mark, const std::string* scalar, YAML::anchor_t anchor,
              std::uint64_t size) {
        if (anchor != 0)
            anchors_[anchor] = size;
        if (open_.empty())
            return;
        Collection& parent = open_.back();
        parent.size = add(parent.size, size);
        if (!parent.map)
            return;
        const bool is_key = parent.next_is_key;
        parent.next_is_key = !parent.next_is_key;
        if (!is_key || scalar == nullptr)
            return;
        const auto [first, inserted] = parent.keys.emplace(*scalar, mark);
        std::size_t bad_at = 0; // a key that is not UTF-8 is reported as such, not echoed
        if (!inserted && valid_utf8(*scalar, bad_at)) {
            const Location first_at = location_of(first->second);
            error(mark,
                  fmt::format("duplicate key '{}' (first at line {}, column {})",
                              scalar->substr(0, max_name_bytes), first_at.line, first_at.column));
        }
    }

    void close() {
        const Collection done = std::move(open_.back());
        open_.pop_back();
        if (done.anchor != 0)
            anchors_[done.anchor] = done.size;
        if (!open_.empty())
            open_.back().size = add(open_.back().size, done.size);
    }

    Diagnostics& out_;
    std::vector<Collection> open_;
    std::unordered_map<YAML::anchor_t, std::uint64_t> anchors_; // anchor → nodes it stands for
    std::uint64_t alias_nodes_ = 0;
    bool alias_reported_ = false;
    int documents_ = 0;
    int last_document_pos_ = -1;
    bool stuck_ = false;

  public:
    bool stuck() const { return stuck_; }
};

} // namespace

void check_yaml_structure(const std::string& text, Diagnostics& out) {
    std::istringstream in(text);
    YAML::Parser parser(in);
    StructureCheck check(out);
    while (!check.stuck() && parser.HandleNextDocument(check)) {
    }
}

Location location_of(const YAML::Mark& m) {
    if (m.is_null())
        return {1, 1};
    return {m.line + 1, m.column + 1};
}

bool valid_utf8(const std::string& text, std::size_t& bad_at) {
    const auto* s = reinterpret_cast<const unsigned char*>(text.data());
    const std::size_t n = text.size();
    for (std::size_t i = 0; i < n;) {
        const unsigned char c = s[i];
        std::size_t length = 0;
        std::uint32_t code = 0;
        std::uint32_t min = 0;
        if (c < 0x80) {
            ++i;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            length = 2, code = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            length = 3, code = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            length = 4, code = c & 0x07, min = 0x10000;
        } else {
            bad_at = i;
            return false;
        }
        if (i + length > n) {
            bad_at = i;
            return false;
        }
        for (std::size_t k = 1; k < length; ++k) {
            if ((s[i + k] & 0xc0) != 0x80) {
                bad_at = i;
                return false;
            }
            code = (code << 6) | (s[i + k] & 0x3f);
        }
        if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
            bad_at = i;
            return false;
        }
        i += length;
    }
    return true;
}

} // namespace lb::control::config
