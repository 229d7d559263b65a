// brine's two error channels (see docs/errors.md):
//  - brine::Error: the user's mistake (bad model, bad input, bad file). The
//    message names the layer / input / file, the shapes involved and what was
//    expected.
//  - brine::InternalError: a bug in brine. It says so.
#pragma once

#include <stdexcept>
#include <string>

namespace brine {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

class InternalError : public std::logic_error {
 public:
  explicit InternalError(const std::string& msg)
      : std::logic_error("internal error (a bug in brine, please report it): " + msg) {}
};

[[noreturn]] inline void internal_error(const std::string& msg) { throw InternalError(msg); }

#define BRINE_CHECK_INTERNAL(cond, msg)                                                   \
  do {                                                                                    \
    if (!(cond)) ::brine::internal_error(std::string(__FILE__) + ":" +                   \
                                         std::to_string(__LINE__) + ": " + (msg));        \
  } while (0)

// The status returned by generated entry points, which must not throw across
// a C-style boundary a deployed application may call from anywhere.
struct Status {
  bool failed = false;
  std::string message;  // empty when ok
  static Status success() { return {}; }
  static Status error(std::string m) { return {true, std::move(m)}; }
  bool ok() const { return !failed; }
  explicit operator bool() const { return !failed; }
};

}  // namespace brine
