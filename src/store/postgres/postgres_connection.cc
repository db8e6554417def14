#include "store/postgres/postgres_connection.h"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <exception>
#include <limits>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace chtlink::store::postgres {

namespace {

constexpr size_t kSqlSnippetChars = 80;

// Type OIDs of pg_type (stable since PostgreSQL 7).
constexpr Oid kBoolOid = 16;
constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kOidOid = 26;
constexpr Oid kFloat4Oid = 700;
constexpr Oid kFloat8Oid = 701;
constexpr Oid kNumericOid = 1700;

std::string snippet(std::string_view sql) {
  std::string out;
  bool space = false;
  for (char c : sql) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    if (out.size() >= kSqlSnippetChars) {
      out += "...";
      break;
    }
    out += c;
  }
  return out;
}

// libpq messages end with a newline and sometimes span lines; one line reads better in logs.
std::string oneLine(const char* text) {
  std::string out = text == nullptr ? "" : text;
  while (!out.empty() && std::isspace(static_cast<unsigned char>(out.back()))) out.pop_back();
  for (char& c : out) {
    if (c == '\n') c = ' ';
  }
  return out;
}

// Owns a PGresult.
struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

class PostgresTransaction final : public Transaction {
 public:
  PostgresTransaction(PostgresConnection& conn, const Dialect& dialect)
      : conn_(conn), dialect_(dialect) {}

  // Transaction
  using Transaction::execute;
  using Transaction::query;
  Result<Rows> query(std::string_view sql, std::span<const Value> params) override {
    return conn_.query(sql, params);
  }
  Result<int64_t> execute(std::string_view sql, std::span<const Value> params) override {
    return conn_.execute(sql, params);
  }
  const Dialect& dialect() const override { return dialect_; }
  Status lockUntilCommit(std::string_view name) override {
    const Value key(advisoryLockKey(name));
    CHTLINK_TRY(conn_.query("SELECT pg_advisory_xact_lock(?)", std::span<const Value>(&key, 1)));
    return ok();
  }

 private:
  PostgresConnection& conn_;
  const Dialect& dialect_;
};

Value readCell(const PGresult* result, int row, int col) {
  if (PQgetisnull(result, row, col) != 0) return Value(Null{});
  const char* text = PQgetvalue(result, row, col);
  const size_t length = static_cast<size_t>(PQgetlength(result, row, col));
  const std::string_view v(text, length);
  switch (PQftype(result, col)) {
    case kInt2Oid:
    case kInt4Oid:
    case kInt8Oid:
    case kOidOid: {
      int64_t n = 0;
      auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec == std::errc() && ptr == v.data() + v.size()) return Value(n);
      return Value(std::string(v));
    }
    case kNumericOid: {
      // SUM() of integers is numeric: keep whole numbers integers, as SQLite does.
      int64_t n = 0;
      auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec == std::errc() && ptr == v.data() + v.size()) return Value(n);
      double d = 0;
      auto [dptr, dec] = std::from_chars(v.data(), v.data() + v.size(), d);
      if (dec == std::errc() && dptr == v.data() + v.size()) return Value(d);
      return Value(std::string(v));
    }
    case kFloat4Oid:
    case kFloat8Oid: {
      if (v == "Infinity") return Value(std::numeric_limits<double>::infinity());
      if (v == "-Infinity") return Value(-std::numeric_limits<double>::infinity());
      if (v == "NaN") return Value(std::numeric_limits<double>::quiet_NaN());
      double d = 0;
      auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
      if (ec == std::errc() && ptr == v.data() + v.size()) return Value(d);
      return Value(std::string(v));
    }
    case kBoolOid:
      return Value(int64_t{v == "t" ? 1 : 0});
    case kByteaOid: {
      size_t n = 0;
      unsigned char* raw =
          PQunescapeBytea(reinterpret_cast<const unsigned char*>(std::string(v).c_str()), &n);
      if (raw == nullptr) return Value(std::string(v));
      std::string bytes(reinterpret_cast<const char*>(raw), n);
      PQfreemem(raw);
      return Value(std::move(bytes));
    }
    default:
      return Value(std::string(v));
  }
}

char typeCode(const Value& v) {
  return std::visit(
      [](const auto& x) -> char {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, Null>)
          return 'n';
        else if constexpr (std::is_same_v<T, int64_t>)
          return 'i';
        else if constexpr (std::is_same_v<T, double>)
          return 'd';
        else
          return 't';
      },
      v);
}

std::string formatDouble(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  return fmt::format("{}", d);  // shortest text that reads back as the same double
}

void ignoreNotice(void*, const char*) {}

}  // namespace

std::string translatePlaceholders(std::string_view sql, int& count) {
  std::string out;
  out.reserve(sql.size() + 16);
  count = 0;
  size_t i = 0;
  while (i < sql.size()) {
    char c = sql[i];
    if (c == '\'' || c == '"') {
      // A literal or quoted identifier; a doubled quote inside is an escaped quote.
      size_t end = i + 1;
      while (end < sql.size()) {
        if (sql[end] == c) {
          if (end + 1 < sql.size() && sql[end + 1] == c) {
            end += 2;
            continue;
          }
          break;
        }
        ++end;
      }
      end = std::min(end + 1, sql.size());
      out.append(sql.substr(i, end - i));
      i = end;
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      size_t end = sql.find('\n', i);
      if (end == std::string_view::npos) end = sql.size();
      out.append(sql.substr(i, end - i));
      i = end;
    } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      size_t end = sql.find("*/", i + 2);
      end = end == std::string_view::npos ? sql.size() : end + 2;
      out.append(sql.substr(i, end - i));
      i = end;
    } else if (c == '?') {
      out += '$';
      out += std::to_string(++count);
      ++i;
    } else {
      out += c;
      ++i;
    }
  }
  return out;
}

std::string maskPostgresUrl(std::string_view url) {
  std::string out(url);
  size_t scheme_end = out.find("://");
  if (scheme_end != std::string::npos) {
    size_t authority = scheme_end + 3;
    size_t at = out.find('@', authority);
    size_t slash = out.find('/', authority);
    if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
      size_t colon = out.find(':', authority);
      if (colon != std::string::npos && colon < at) {
        out.replace(colon + 1, at - colon - 1, "***");
      }
    }
  }
  // password=... in the query string or in a key=value conninfo.
  for (size_t pos = out.find("password="); pos != std::string::npos;
       pos = out.find("password=", pos + 1)) {
    size_t start = pos + 9;
    size_t end = out.find_first_of("& ", start);
    if (end == std::string::npos) end = out.size();
    out.replace(start, end - start, "***");
  }
  return out;
}

int64_t advisoryLockKey(std::string_view name) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : name) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return static_cast<int64_t>(h);  // modular since C++20
}

Result<std::unique_ptr<PostgresConnection>> PostgresConnection::open(
    const ConnectionSettings& settings) {
  // expand_dbname: the URL is expanded into its parts; the fallback name applies only when
  // the URL does not set application_name.
  const char* const keywords[] = {"dbname", "fallback_application_name", "connect_timeout",
                                  nullptr};
  const char* const values[] = {settings.url.c_str(), "chtlink", "10", nullptr};
  PGconn* conn = PQconnectdbParams(keywords, values, 1);
  if (conn == nullptr) {
    return failedPrecondition(
        fmt::format("cannot connect to PostgreSQL {}: out of memory", settings.shown_url),
        "database_open_failed");
  }
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string why = oneLine(PQerrorMessage(conn));
    PQfinish(conn);
    return failedPrecondition(
        fmt::format("cannot connect to PostgreSQL {}: {} (check store.url: host, port, user, "
                    "password and database name, and that the server is running)",
                    settings.shown_url, why),
        "database_open_failed");
  }
  std::unique_ptr<PostgresConnection> out(new PostgresConnection(conn, settings));
  Status configured = out->configure();
  if (!configured.has_value()) {
    return configured.error().withContext(
        fmt::format("cannot use PostgreSQL {}", settings.shown_url));
  }
  return out;
}

PostgresConnection::PostgresConnection(pg_conn* conn, ConnectionSettings settings)
    : conn_(conn), settings_(std::move(settings)) {
  // The default notice processor prints to stderr; NOTICEs ("relation already exists,
  // skipping") are not errors.
  PQsetNoticeProcessor(conn_, ignoreNotice, nullptr);
}

PostgresConnection::~PostgresConnection() { PQfinish(conn_); }

Status PostgresConnection::configure() {
  if (PQserverVersion(conn_) < 110000) {
    return failedPrecondition(fmt::format("PostgreSQL {} is version {}; chtlink needs 11 or newer",
                                          settings_.shown_url, PQserverVersion(conn_)),
                              "database_too_old");
  }
  // lock_timeout plays the part of SQLite's busy_timeout: a write waits this long for a row
  // another transaction holds, then fails as busy instead of hanging.
  CHTLINK_TRY(simpleQuery(
      fmt::format("SET lock_timeout = {}", std::max<int64_t>(settings_.lock_timeout.count(), 0))));
  return ok();
}

Status PostgresConnection::ensureConnected() {
  if (PQstatus(conn_) == CONNECTION_OK && !needs_reset_) return ok();
  needs_reset_ = false;
  // A read transaction whose COMMIT was owed ends with the old session.
  commit_owed_ = false;
  commit_sent_ = false;
  PQreset(conn_);
  cache_.clear();  // server-side prepared statements went with the old session
  if (PQstatus(conn_) != CONNECTION_OK) {
    return unavailable(fmt::format("lost the connection to PostgreSQL {} and cannot reconnect: {}",
                                   settings_.shown_url, oneLine(PQerrorMessage(conn_))),
                       "database_unavailable");
  }
  return configure();
}

Result<Rows> PostgresConnection::simpleQuery(std::string_view sql) {
  ResultPtr result(PQexec(conn_, std::string(sql).c_str()));
  ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return resultError(result.get(), sql);
  }
  if (status == PGRES_COMMAND_OK) return Rows();
  const int columns = PQnfields(result.get());
  std::vector<std::string> names;
  for (int c = 0; c < columns; ++c) names.emplace_back(PQfname(result.get(), c));
  std::vector<std::vector<Value>> rows;
  for (int r = 0; r < PQntuples(result.get()); ++r) {
    std::vector<Value> row;
    for (int c = 0; c < columns; ++c) row.push_back(readCell(result.get(), r, c));
    rows.push_back(std::move(row));
  }
  return Rows(std::move(names), std::move(rows));
}

Error PostgresConnection::resultError(pg_result* result, std::string_view sql) {
  if (PQstatus(conn_) != CONNECTION_OK) {
    return unavailable(
        fmt::format("lost the connection to PostgreSQL {}: {} [SQL: {}]", settings_.shown_url,
                    oneLine(PQerrorMessage(conn_)), snippet(sql)),
        "database_unavailable");
  }
  std::string state;
  std::string message;
  if (result != nullptr) {
    const char* code = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    state = code == nullptr ? "" : code;
    message = oneLine(PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY));
    const char* detail = PQresultErrorField(result, PG_DIAG_MESSAGE_DETAIL);
    if (detail != nullptr) message += " (" + oneLine(detail) + ")";
  }
  if (message.empty()) message = oneLine(PQerrorMessage(conn_));
  std::string text = fmt::format("database error: {} [SQL: {}]", message, snippet(sql));
  if (state == "40001" || state == "40P01") {
    retryable_failure_ = true;
    return conflict(std::move(text), "transaction_aborted");
  }
  if (state.starts_with("23")) return conflict(std::move(text), "constraint_violation");
  if (state == "55P03" || state == "57014") return unavailable(std::move(text), "database_busy");
  if (state.starts_with("08") || state.starts_with("53") || state.starts_with("57P")) {
    return unavailable(fmt::format("PostgreSQL {}: {}", settings_.shown_url, text),
                       "database_unavailable");
  }
  return internalError(std::move(text), "database_error");
}

Result<const PostgresConnection::Cached*> PostgresConnection::prepareCached(
    std::string_view sql, std::span<const Value> params) {
  ++use_counter_;
  // The parameter types are part of the prepared statement, so they are part of the key.
  std::string key(sql);
  key += '\x01';
  for (const Value& v : params) key += typeCode(v);
  if (auto it = cache_.find(key); it != cache_.end()) {
    it->second.last_used = use_counter_;
    return &it->second;
  }
  int count = 0;
  std::string translated = translatePlaceholders(sql, count);
  if (static_cast<size_t>(count) != params.size()) {
    return invalidArgument(fmt::format("statement has {} parameters but {} were given [SQL: {}]",
                                       count, params.size(), snippet(sql)),
                           "bad_sql");
  }
  // Integers and reals are typed (bigint, double precision); text and NULL are left for the
  // server to infer from where they are used, as SQLite's loose typing would accept them.
  std::vector<Oid> types;
  types.reserve(params.size());
  for (const Value& v : params) {
    char t = typeCode(v);
    types.push_back(t == 'i' ? kInt8Oid : t == 'd' ? kFloat8Oid : 0);
  }
  if (cache_.size() >= settings_.statement_cache_size && !cache_.empty()) {
    auto oldest = cache_.begin();
    for (auto it = cache_.begin(); it != cache_.end(); ++it) {
      if (it->second.last_used < oldest->second.last_used) oldest = it;
    }
    // Inside a failed transaction DEALLOCATE fails too; the statement then stays on the
    // server until the session ends, which is harmless.
    ResultPtr freed(PQexec(conn_, ("DEALLOCATE " + oldest->second.name).c_str()));
    cache_.erase(oldest);
  }
  std::string name = "chtlink_" + std::to_string(++statement_counter_);
  ResultPtr prepared(PQprepare(conn_, name.c_str(), translated.c_str(), count,
                               types.empty() ? nullptr : types.data()));
  if (!prepared || PQresultStatus(prepared.get()) != PGRES_COMMAND_OK) {
    return resultError(prepared.get(), sql);
  }
  auto [it, inserted] = cache_.emplace(std::move(key), Cached{name, count, use_counter_});
  return &it->second;
}

Result<int64_t> PostgresConnection::run(std::string_view sql, std::span<const Value> params,
                                        Rows* out) {
  auto prepared = prepareCached(sql, params);
  if (!prepared.has_value()) {
    // A dead session shows here first when the statement was not prepared yet; nothing of
    // the transaction ran, so it may start over on a new session.
    if (pending_begin_ != nullptr && PQstatus(conn_) != CONNECTION_OK) begin_failed_ = true;
    if (prepared.error().reason != "bad_sql") statement_failed_ = true;
    return prepared.error();
  }
  const Cached* stmt = *prepared;
  std::vector<std::string> texts(params.size());
  std::vector<const char*> values(params.size(), nullptr);
  for (size_t i = 0; i < params.size(); ++i) {
    const Value& v = params[i];
    if (const auto* n = std::get_if<int64_t>(&v)) {
      texts[i] = std::to_string(*n);
    } else if (const auto* d = std::get_if<double>(&v)) {
      texts[i] = formatDouble(*d);
    } else if (const auto* s = std::get_if<std::string>(&v)) {
      if (s->find('\0') != std::string::npos) {
        return invalidArgument(
            fmt::format("parameter {} holds a NUL byte, which PostgreSQL text cannot store "
                        "[SQL: {}]",
                        i + 1, snippet(sql)),
            "bad_value");
      }
      texts[i] = *s;
    } else {
      continue;  // NULL
    }
    values[i] = texts[i].c_str();
  }
  ResultPtr result;
  if (pending_begin_ != nullptr) {
    auto first = execAfterBegin(*stmt, values);
    if (!first.has_value()) {
      statement_failed_ = true;
      return first.error();
    }
    result.reset(*first);
  } else {
    result.reset(PQexecPrepared(conn_, stmt->name.c_str(), static_cast<int>(params.size()),
                                values.empty() ? nullptr : values.data(), nullptr, nullptr, 0));
  }
  ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    statement_failed_ = true;
    return resultError(result.get(), sql);
  }
  if (out != nullptr) {
    const int columns = PQnfields(result.get());
    std::vector<std::string> names;
    names.reserve(static_cast<size_t>(columns));
    for (int c = 0; c < columns; ++c) names.emplace_back(PQfname(result.get(), c));
    const int count = PQntuples(result.get());
    std::vector<std::vector<Value>> rows;
    rows.reserve(static_cast<size_t>(count));
    for (int r = 0; r < count; ++r) {
      std::vector<Value> row;
      row.reserve(static_cast<size_t>(columns));
      for (int c = 0; c < columns; ++c) row.push_back(readCell(result.get(), r, c));
      rows.push_back(std::move(row));
    }
    *out = Rows(std::move(names), std::move(rows));
  }
  const char* tuples = PQcmdTuples(result.get());
  int64_t changed = 0;
  if (tuples != nullptr && *tuples != '\0') {
    std::from_chars(tuples, tuples + std::char_traits<char>::length(tuples), changed);
  }
  return changed;
}

Result<pg_result*> PostgresConnection::execAfterBegin(const Cached& stmt,
                                                      const std::vector<const char*>& values) {
  const char* begin = pending_begin_;
  pending_begin_ = nullptr;
  // The previous read transaction's COMMIT goes first when it is still owed.
  const bool commit = commit_owed_;
  commit_owed_ = false;
  const int queries = commit ? 3 : 2;
  ResultPtr results[3];  // the first result of each query, in order
  bool synced = false;
  if (PQenterPipelineMode(conn_) == 1) {
    bool sent = !commit ||
                PQsendQueryParams(conn_, "COMMIT", 0, nullptr, nullptr, nullptr, nullptr, 0) == 1;
    sent =
        sent && PQsendQueryParams(conn_, begin, 0, nullptr, nullptr, nullptr, nullptr, 0) == 1 &&
        PQsendQueryPrepared(conn_, stmt.name.c_str(), static_cast<int>(values.size()),
                            values.empty() ? nullptr : values.data(), nullptr, nullptr, 0) == 1 &&
        PQpipelineSync(conn_) == 1;
    // Each query's results end with a null; then the sync point.
    for (int query = 0; sent;) {
      PGresult* r = PQgetResult(conn_);
      if (r == nullptr) {
        if (PQstatus(conn_) != CONNECTION_OK || ++query > queries) break;
        continue;
      }
      ResultPtr owned(r);
      if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
        synced = true;
        break;
      }
      if (query < queries && !results[query]) results[query] = std::move(owned);
    }
    if (!synced || PQexitPipelineMode(conn_) != 1) {
      // Results left unread: only a new session is in a known state.
      synced = false;
      needs_reset_ = true;
    }
  }
  ResultPtr& begin_result = results[commit ? 1 : 0];
  ResultPtr& stmt_result = results[commit ? 2 : 1];
  const bool begun = begin_result && PQresultStatus(begin_result.get()) == PGRES_COMMAND_OK;
  if (!begun) {
    // Nothing of this transaction ran (a failed COMMIT of a read-only transaction loses
    // nothing either): it may start over.
    begin_failed_ = true;
    pg_result* cause = commit && results[0] && PQresultStatus(results[0].get()) != PGRES_COMMAND_OK
                           ? results[0].get()
                           : begin_result.get();
    return resultError(cause, begin).withContext("starting a transaction");
  }
  if (!synced || !stmt_result) {
    return unavailable(fmt::format("lost the connection to PostgreSQL {}: {}", settings_.shown_url,
                                   oneLine(PQerrorMessage(conn_))),
                       "database_unavailable");
  }
  return stmt_result.release();
}

void PostgresConnection::sendOwedCommit() {
  if (!commit_owed_) return;
  commit_owed_ = false;
  // A COMMIT that cannot even be sent means a broken connection, which ends the transaction
  // just as well; the next use reconnects.
  commit_sent_ = PQsendQuery(conn_, "COMMIT") == 1;
}

void PostgresConnection::finishSentCommit() {
  if (!commit_sent_) return;
  commit_sent_ = false;
  // Its outcome changes nothing (see transact()); a broken connection shows at the next use.
  while (PGresult* r = PQgetResult(conn_)) PQclear(r);
}

Result<Rows> PostgresConnection::query(std::string_view sql, std::span<const Value> params) {
  Rows rows;
  CHTLINK_TRY(run(sql, params, &rows));
  return rows;
}

Result<int64_t> PostgresConnection::execute(std::string_view sql, std::span<const Value> params) {
  return run(sql, params, nullptr);
}

Status PostgresConnection::transact(Access access, const Dialect& dialect,
                                    const Database::Work& work) {
  bool reconnected = false;
  for (int attempt = 1;; ++attempt) {
    finishSentCommit();
    CHTLINK_TRY(ensureConnected());
    retryable_failure_ = false;
    begin_failed_ = false;
    Status result = runTransaction(access, dialect, work);
    // A connection the server closed while idle (restart, idle timeout) shows only when BEGIN
    // fails; nothing ran yet, so connect again and start over, once.
    if (!result.has_value() && begin_failed_ && !reconnected &&
        (PQstatus(conn_) != CONNECTION_OK || needs_reset_)) {
      reconnected = true;
      --attempt;
      continue;
    }
    if (result.has_value() || !retryable_failure_) return result;
    if (attempt >= kMaxTransactionAttempts) {
      Error e = result.error();
      e.code = ErrorCode::Conflict;
      e.reason = "transaction_aborted";
      return e.withContext(fmt::format(
          "the transaction was aborted by a concurrent one {} times (deadlock or serialization "
          "failure); giving up",
          attempt));
    }
    // A short pause, longer each time, lets the transaction that won finish first.
    std::this_thread::sleep_for(std::chrono::milliseconds(5 * attempt));
  }
}

Status PostgresConnection::runTransaction(Access access, const Dialect& dialect,
                                          const Database::Work& work) {
  // Sent with the first statement (execAfterBegin).
  pending_begin_ =
      access == Access::Write ? "BEGIN" : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
  statement_failed_ = false;

  PostgresTransaction tx(*this, dialect);
  Status result = ok();
  try {
    result = work(tx);
  } catch (const std::exception& e) {
    result =
        internalError(fmt::format("database work threw an exception: {}", e.what()), "exception");
  } catch (...) {
    result = internalError("database work threw an exception of unknown type", "exception");
  }

  // Work that ran no statement started no transaction.
  const bool begun = pending_begin_ == nullptr;
  pending_begin_ = nullptr;
  if (result.has_value() && statement_failed_) {
    // Carrying on after a failed statement; it may have failed before the transaction began
    // (at prepare), where the server has no failed transaction to refuse the COMMIT.
    result = internalError(
        "database work carried on after a failed statement; its transaction was rolled back",
        "transaction_misuse");
  }
  if (!begun) return result;
  if (result.has_value()) {
    switch (PQtransactionStatus(conn_)) {
      case PQTRANS_INTRANS:
        break;
      case PQTRANS_INERROR:
        // COMMIT would silently roll back; say so instead of reporting success.
        result = internalError(
            "database work carried on after a failed statement; its transaction was rolled "
            "back",
            "transaction_misuse");
        break;
      case PQTRANS_IDLE:
        return internalError(
            "database work ended its transaction itself (COMMIT or ROLLBACK inside work); its "
            "effects may be partly committed",
            "transaction_misuse");
      default:
        break;
    }
  }
  if (result.has_value() && access == Access::Read) {
    commit_owed_ = true;  // see transact()
    return ok();
  }
  if (result.has_value()) {
    auto commit = simpleQuery("COMMIT");
    if (commit.has_value()) return ok();
    if (PQstatus(conn_) != CONNECTION_OK) {
      return commit.error().withContext(
          "committing (the connection broke during COMMIT: the transaction may or may not "
          "have committed)");
    }
    return commit.error().withContext("committing");
  }
  rollback(result);
  return result;
}

void PostgresConnection::rollback(Status& result) {
  if (PQstatus(conn_) != CONNECTION_OK) return;  // the server rolls back with the session
  if (PQtransactionStatus(conn_) == PQTRANS_IDLE) return;
  auto rolled = simpleQuery("ROLLBACK");
  if (!rolled.has_value()) {
    Error e = result.error();
    e.message += "; rolling back failed too: " + rolled.error().message;
    result = std::move(e);
  }
}

}  // namespace chtlink::store::postgres
