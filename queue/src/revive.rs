//! Pushing a stalled generation again, so that it runs now.
//!
//! A plain push with the same idempotency key does nothing while the old
//! job still exists: SQLite and PostgreSQL keep every job row (a unique
//! index on the key) and Redis keeps the key for 90 days. Yet the job may
//! be one no worker will take: `Failed` after its retries, `Done` or
//! `Killed`, or `Running`/`Queued` for a worker that died before it took
//! the generation's lease (apalis's own orphan recovery waits for many
//! missed heartbeats). When the database says the generation never started,
//! [`JobQueue::push_again`] puts that job back in line (or creates it when
//! it is gone) and wakes the workers. A job run twice is harmless: the
//! generation's lease in the database decides which run does the work.

use redis::Script;

use crate::backend::{JobQueue, QueueError, Store};
use crate::generate_video::{GenerateVideo, QUEUE_NAME};
use crate::wake::POSTGRES_WAKE_CHANNEL;

/// What [`JobQueue::push_again`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushedAgain {
    /// The job existed but no worker would have taken it: it is back in line.
    Revived,
    /// No job was stuck: it was created again (the queue had lost it), or it
    /// is still waiting in line for a free worker.
    Pushed,
}

/// Back to `Pending`, due now, unlocked, its attempts forgotten — unless
/// it already waits in line.
const SQLITE_REVIVE: &str = "UPDATE Jobs SET status = 'Pending', attempts = 0, run_at = strftime('%s', 'now'), \
     lock_by = NULL, lock_at = NULL, done_at = NULL \
     WHERE job_type = ?1 AND idempotency_key = ?2 \
     AND (status <> 'Pending' OR lock_by IS NOT NULL OR run_at > strftime('%s', 'now'))";

/// The same for PostgreSQL, announcing the job on the channel apalis's
/// insert trigger uses (an update fires no trigger).
const POSTGRES_REVIVE: &str = "WITH revived AS ( \
       UPDATE apalis.jobs SET status = 'Pending', attempts = 0, run_at = now(), \
         lock_by = NULL, lock_at = NULL, done_at = NULL \
       WHERE job_type = $1 AND idempotency_key = $2 \
         AND (status <> 'Pending' OR lock_by IS NOT NULL OR run_at > now()) \
       RETURNING id, job_type, run_at) \
     SELECT pg_notify($3, json_build_object('job_type', job_type, 'id', id, 'run_at', run_at)::text)::text FROM revived";

/// Redis (apalis-redis 1.0's layout): the key names the task; a task not
/// in the active list is taken out of the done, dead and failed sets and
/// the scheduled set, marked `Pending` and appended to the active list. A
/// task still in some worker's in-flight set stays there too, so that
/// worker's acknowledgement still finds it. Returns 1 when revived, 2 when
/// it already waits, 0 when there is no such job (the key is dropped when
/// it outlived its task, so that a push creates the job again).
const REDIS_REVIVE: &str = r#"
local task_id = redis.call('GET', KEYS[1])
if not task_id then return 0 end
if redis.call('HEXISTS', KEYS[2], task_id) == 0 then
  redis.call('DEL', KEYS[1])
  return 0
end
if redis.call('LPOS', KEYS[3], task_id) then return 2 end
redis.call('ZREM', KEYS[4], task_id)
redis.call('SREM', KEYS[5], task_id)
redis.call('SREM', KEYS[6], task_id)
redis.call('SREM', KEYS[7], task_id)
redis.call('HSET', KEYS[8] .. ':' .. task_id, 'status', 'Pending', 'attempts', 0)
redis.call('RPUSH', KEYS[3], task_id)
redis.call('DEL', KEYS[9])
redis.call('LPUSH', KEYS[9], 1)
return 1
"#;

impl JobQueue {
    /// Pushes `job` again after it stalled: an existing job with its key
    /// that no worker would take (failed, done, killed, or locked by a
    /// worker that never started it) is put back in line at once; a job
    /// the queue lost is created again. Only for a generation the database
    /// says never started: a worker running it now would see it again.
    pub async fn push_again(&self, job: GenerateVideo) -> Result<PushedAgain, QueueError> {
        let key = job.idempotency_key();
        let failed = |e: &dyn std::fmt::Display| QueueError::Push { key: key.clone(), message: e.to_string() };
        let revived = match &self.store {
            Store::Sqlite { pool } => {
                let done = sqlx::query(SQLITE_REVIVE).bind(QUEUE_NAME).bind(&key).execute(pool).await.map_err(|e| failed(&e))?;
                done.rows_affected() > 0
            }
            Store::Postgres { pool } => {
                let rows: Vec<(Option<String>,)> = sqlx::query_as(POSTGRES_REVIVE)
                    .bind(QUEUE_NAME)
                    .bind(&key)
                    .bind(POSTGRES_WAKE_CHANNEL)
                    .fetch_all(pool)
                    .await
                    .map_err(|e| failed(&e))?;
                !rows.is_empty()
            }
            Store::Redis { conn, .. } => {
                let config = self.redis_config();
                let mut conn = conn.clone();
                let answer: i64 = Script::new(REDIS_REVIVE)
                    .key(format!("{}:{key}", config.idempotency_key_set()))
                    .key(config.job_data_hash())
                    .key(config.active_jobs_list())
                    .key(config.scheduled_jobs_set())
                    .key(config.done_jobs_set())
                    .key(config.dead_jobs_set())
                    .key(config.failed_jobs_set())
                    .key(config.job_meta_hash())
                    .key(config.signal_list())
                    .invoke_async(&mut conn)
                    .await
                    .map_err(|e| failed(&e))?;
                answer == 1
            }
        };
        // Creates the job when it is gone; wakes this process's workers and
        // (Redis) announces it to the others.
        self.push(job).await?;
        Ok(if revived { PushedAgain::Revived } else { PushedAgain::Pushed })
    }
}
