//! The planner's statistics of tables this process fills quickly. PostgreSQL gathers
//! them by itself (autovacuum's ANALYZE), but only a minute or more after the fact; a
//! graph table filled in the meantime is planned as if it held a row or two, and the
//! batched reads of the query path then scan every edge of the workspace against each
//! item of the batch (20 to 50 ms a read at 6 000 edges, where the index takes less
//! than one). So a writer counts the rows it wrote and runs ANALYZE itself each time
//! that count doubles: a few times while a table is young, then rarely, and never
//! again once autovacuum's own thresholds take over.

use std::sync::Mutex;

use super::pool::Pool;

/// Rows written before the first ANALYZE.
const FIRST_AFTER: u64 = 500;

pub(super) struct Statistics {
    /// What ANALYZE names: one table or several, comma separated.
    tables: &'static str,
    /// Rows written since the last ANALYZE, and in all before it.
    written: Mutex<(u64, u64)>,
}

impl Statistics {
    pub(super) const fn of(tables: &'static str) -> Statistics {
        Statistics {
            tables,
            written: Mutex::new((0, 0)),
        }
    }

    /// Counts `rows` written, and analyzes the tables when the rows written since the
    /// last time are as many as all before it. A failure is only logged: the
    /// statistics are an aid, and autovacuum makes them too.
    pub(super) fn wrote(&self, pool: &Pool, rows: usize) {
        if !self.count(rows) {
            return;
        }
        let sql = format!("ANALYZE {}", self.tables);
        match pool.run(|c| c.batch_execute(&sql)) {
            Ok(()) => tracing::debug!(tables = self.tables, "planner statistics refreshed"),
            Err(error) => crate::log_unless_outage!(warn, &error, tables = self.tables, %error,
                "planner statistics not refreshed"),
        }
    }
}

impl Statistics {
    /// Counts `rows` written; true when ANALYZE is due (and counted as done).
    fn count(&self, rows: usize) -> bool {
        let mut written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        written.0 += rows as u64;
        let due = written.0 >= FIRST_AFTER.max(written.1);
        if due {
            *written = (0, written.1 + written.0);
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The totals at which ANALYZE runs, for writes of `rows` each.
    fn analyzed_at(rows: usize, writes: usize) -> Vec<usize> {
        let stats = Statistics::of("t");
        (1..=writes)
            .filter(|_| stats.count(rows))
            .map(|n| n * rows)
            .collect()
    }

    #[test]
    fn analyze_runs_each_time_the_rows_written_double() {
        assert_eq!(analyzed_at(100, 45), [500, 1000, 2000, 4000]);
    }
}
