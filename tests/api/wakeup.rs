//! The queue only wakes workers; the database is the truth.
//! - A pushed job is picked up at once, not at the next poll: in the
//!   process that pushed it (SQLite), and across processes (PostgreSQL
//!   LISTEN/NOTIFY, Redis pub/sub). Polling is set to a minute here, so
//!   only a wake-up can answer within the bound.
//! - A Redis queue that restarts empty in the middle of a burst loses
//!   nothing: every stranded generation is pushed again and every request
//!   is delivered once, with one generation per prompt.

use crate::support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{Harness, free_port, redis_db, scale_backends, videos_to};

/// Polling every minute and heartbeats every 30 s: an answer within this
/// bound can only come from a wake-up.
const WAKE_BOUND: Duration = Duration::from_secs(8);

fn slow_polling(h: &mut Harness) {
    h.set("QUEUE_POLL_INTERVAL_MS", "60000");
    h.set("JOB_LEASE_SECS", "90");
    h.set("LOCAL_GENERATOR_DELAY_MS", "0");
}

async fn each_new_prompt_is_answered_within_the_bound(h: &Harness, first_chat: i64) {
    for i in 0..3 {
        let chat = first_chat + i;
        let started = Instant::now();
        h.fake.push_text(chat, chat, &format!("wake up number {i} for chat {chat}"));
        let got = h.fake.wait_for(move |sent| !videos_to(sent, chat).is_empty(), WAKE_BOUND).await;
        assert!(got, "prompt {i} was not answered within {WAKE_BOUND:?} ({:?})\n{}", started.elapsed(), h.logs());
    }
}

/// Waits until a worker has registered with the queue in `store` (apalis
/// registers a worker just before its first fetch): a row of `Workers` in
/// the SQLite queue file or `apalis.workers` on PostgreSQL, or a member of
/// the queue's workers set on Redis.
async fn wait_worker_registered(h: &Harness, store: &Store) {
    let registered = support::eventually(Duration::from_secs(30), || async {
        match store {
            Store::Sqlite(url) | Store::Postgres(url) => {
                use sea_orm::{ConnectionTrait, Statement};
                let table = if matches!(store, Store::Sqlite(_)) { "Workers" } else { "apalis.workers" };
                let Ok(db) = sea_orm::Database::connect(url.as_str()).await else { return false };
                let sql = format!("SELECT id FROM {table} WHERE worker_type = '{}'", queue::QUEUE_NAME);
                let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await;
                rows.is_ok_and(|rows| !rows.is_empty())
            }
            Store::Redis(url) => {
                let Ok(client) = redis::Client::open(url.as_str()) else { return false };
                let Ok(mut conn) = client.get_multiplexed_async_connection().await else { return false };
                let workers: redis::RedisResult<i64> =
                    redis::cmd("ZCARD").arg(format!("{}:workers", queue::QUEUE_NAME)).query_async(&mut conn).await;
                workers.is_ok_and(|n| n > 0)
            }
        }
    })
    .await;
    assert!(registered, "the worker never registered with the queue\n{}", h.logs());
}

/// Waits until some process listens for other processes' pushes on
/// `store`: a session that ran `LISTEN` on apalis's insert channel, or a
/// subscriber of the wake-up channel on Redis.
async fn wait_listening_for_pushes(h: &Harness, store: &Store) {
    let listening = support::eventually(Duration::from_secs(30), || async {
        match store {
            Store::Sqlite(_) => true,
            Store::Postgres(url) => {
                use sea_orm::{ConnectionTrait, Statement};
                let Ok(db) = sea_orm::Database::connect(url.as_str()).await else { return false };
                let sql = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN %apalis::job::insert%'";
                let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql.to_owned())).await;
                rows.is_ok_and(|rows| !rows.is_empty())
            }
            Store::Redis(url) => {
                let Ok(client) = redis::Client::open(url.as_str()) else { return false };
                let Ok(mut conn) = client.get_multiplexed_async_connection().await else { return false };
                let counts: redis::RedisResult<(String, i64)> =
                    redis::cmd("PUBSUB").arg("NUMSUB").arg(WAKE_CHANNEL).query_async(&mut conn).await;
                counts.is_ok_and(|(_, n)| n > 0)
            }
        }
    })
    .await;
    assert!(listening, "the worker never listened for pushes\n{}", h.logs());
}

/// The Redis channel a pusher publishes on (`queue::wake`).
const WAKE_CHANNEL: &str = "vidcache.generate_video:wake";

/// Where the queue lives, as a test reaches it.
enum Store {
    Sqlite(String),
    Postgres(String),
    Redis(String),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_wakes_the_worker_of_the_same_process() {
    let mut h = Harness::new().await;
    slow_polling(&mut h);
    let service = h.spawn();
    h.wait_polling().await;
    // The worker's first (immediate) fetch follows its registration: a
    // prompt after it can only be answered by a wake-up.
    let file = h.data_dir().join("queue.sqlite");
    wait_worker_registered(&h, &Store::Sqlite(format!("sqlite://{}", file.display()))).await;
    each_new_prompt_is_answered_within_the_bound(&h, 100).await;
    service.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_wakes_workers_of_other_processes_through_postgres_and_redis() {
    for queue in ["postgres", "redis"] {
        let Some((database_url, redis_url)) = scale_backends(redis_db::WAKEUP_ACROSS_PROCESSES).await else { return };
        let mut h = Harness::new().await;
        slow_polling(&mut h);
        h.set("DATABASE_URL", &database_url);
        let store = if queue == "redis" {
            h.set("QUEUE_URL", &redis_url);
            Store::Redis(redis_url)
        } else {
            Store::Postgres(database_url)
        };
        let worker = h.spawn_with("worker", &[]);
        // The worker hears other processes' pushes once it listens, and
        // its first fetch follows its registration.
        wait_listening_for_pushes(&h, &store).await;
        wait_worker_registered(&h, &store).await;
        let bot = h.spawn_with("bot", &[]);
        h.wait_polling().await;
        each_new_prompt_is_answered_within_the_bound(&h, 200).await;
        bot.terminate().await;
        worker.terminate().await;
    }
}

/// A push made before any worker listens — the worker process is not even
/// running — is not lost with its notification: the worker's first fetch,
/// after it subscribes, finds the job (polling is a minute away).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_before_the_worker_listens_is_picked_up_when_it_starts() {
    for queue in ["postgres", "redis"] {
        let Some((database_url, redis_url)) = scale_backends(redis_db::WAKEUP_BEFORE_LISTENING).await else { return };
        let mut h = Harness::new().await;
        slow_polling(&mut h);
        h.set("DATABASE_URL", &database_url);
        if queue == "redis" {
            h.set("QUEUE_URL", &redis_url);
        }
        let bot = h.spawn_with("bot", &[]);
        h.wait_polling().await;
        let chat = 300;
        h.fake.push_text(chat, chat, &format!("pushed before the worker on {queue}"));
        let pushed = support::eventually(Duration::from_secs(30), || async {
            h.assets().await.iter().any(|a| a.generation > 0 && a.dispatched_generation == a.generation)
        })
        .await;
        assert!(pushed, "the prompt was never pushed on {queue}\n{}", h.logs());
        let started = Instant::now();
        let worker = h.spawn_with("worker", &[]);
        let got = h.fake.wait_for(move |sent| !videos_to(sent, chat).is_empty(), WAKE_BOUND).await;
        assert!(got, "the job pushed before the worker started waited {:?} on {queue}\n{}", started.elapsed(), h.logs());
        worker.terminate().await;
        bot.terminate().await;
    }
}

/// A `redis-server` of this test's own, without persistence.
struct OwnRedis {
    child: std::process::Child,
    port: u16,
}

impl OwnRedis {
    fn start(port: u16) -> Option<Self> {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        match child {
            Ok(child) => Some(Self { child, port }),
            Err(err) => {
                assert!(std::env::var_os("CI").is_none(), "redis-server is required in CI: {err}");
                eprintln!("note: redis-server not found ({err}); skipping");
                None
            }
        }
    }

    async fn wait_ready(&self) {
        let url = format!("redis://127.0.0.1:{}", self.port);
        let ready = support::eventually(Duration::from_secs(10), || async {
            match redis::Client::open(url.as_str()) {
                Ok(client) => client.get_multiplexed_async_connection().await.is_ok(),
                Err(_) => false,
            }
        })
        .await;
        assert!(ready, "redis-server on port {} never answered", self.port);
    }

    fn kill(&mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_queue_that_restarts_empty_strands_nothing() {
    let Some(database_url) = support::postgres_database().await else { return };
    let port = free_port();
    let Some(mut redis) = OwnRedis::start(port) else { return };
    redis.wait_ready().await;
    let mut h = Harness::new().await;
    h.set("DATABASE_URL", &database_url);
    h.set("QUEUE_URL", &format!("redis://127.0.0.1:{port}"));
    h.set("LOCAL_GENERATOR_DELAY_MS", "1500");
    h.set("WORKER_CONCURRENCY", "1");
    let service = h.spawn();
    h.wait_polling().await;

    // a burst: 10 prompts, 4 users each
    let prompts: Vec<String> = (0..10).map(|i| format!("stranded prompt {i}")).collect();
    for (i, prompt) in prompts.iter().enumerate() {
        for user in 0..4 {
            let chat = 5_000 + (i as i64) * 10 + user;
            h.fake.push_text(chat, chat, prompt);
        }
    }
    // every generation is pushed (recorded as dispatched) while one job runs at a time
    let pushed = support::eventually(Duration::from_secs(30), || async {
        let assets = h.assets().await;
        assets.len() == prompts.len() && assets.iter().all(|a| a.dispatched_generation == a.generation)
    })
    .await;
    assert!(pushed, "the burst was never fully dispatched\n{}", h.logs());

    // the queue's Redis dies and comes back empty
    redis.kill();
    let mut redis = OwnRedis::start(port).expect("redis-server restarts");
    redis.wait_ready().await;

    let chats: Vec<i64> = (0..10).flat_map(|i| (0..4).map(move |u| 5_000 + i * 10 + u)).collect();
    let all = chats.clone();
    let delivered =
        h.fake.wait_for(move |sent| all.iter().all(|chat| !videos_to(sent, *chat).is_empty()), Duration::from_secs(120)).await;
    assert!(delivered, "some requests were stranded by the lost queue\n{}", h.logs());
    let sent = h.fake.sent();
    for chat in &chats {
        assert_eq!(videos_to(&sent, *chat).len(), 1, "chat {chat} got its video exactly once");
    }
    assert_eq!(h.fake.uploads(), prompts.len(), "one upload per prompt");
    let generations: i32 = h.assets().await.iter().map(|a| a.attempts).sum();
    assert_eq!(generations, prompts.len() as i32, "one generation per prompt");
    service.terminate().await;
    redis.kill();
}

/// How the queue may leave a job no worker will take while the database
/// still holds its generation pending, never started.
#[derive(Debug, Clone, Copy)]
enum Stuck {
    /// apalis gave up on it (the claim's errors were returned, retried, failed).
    Failed,
    Done,
    Killed,
    /// Fetched by a worker that died before it took the lease (whose
    /// heartbeat apalis still trusts).
    RunningForADeadWorker,
}

const STUCK: [Stuck; 4] = [Stuck::Failed, Stuck::Done, Stuck::Killed, Stuck::RunningForADeadWorker];

/// Short leases: a job that has not started is stalled after 2 × 2 s.
fn short_leases(h: &mut Harness) {
    h.set("JOB_LEASE_SECS", "2");
    h.set("QUEUE_POLL_INTERVAL_MS", "200");
    h.set("LOCAL_GENERATOR_DELAY_MS", "0");
}

/// The bot role alone records and pushes one prompt per [`STUCK`] state
/// (two users each); nothing runs them. Returns the chats.
async fn pushed_but_not_run(h: &Harness, first_chat: i64) -> Vec<i64> {
    let mut chats = Vec::new();
    for (i, stuck) in STUCK.iter().enumerate() {
        for user in 0..2 {
            let chat = first_chat + (i as i64) * 10 + user;
            h.fake.push_text(chat, chat, &format!("a job left {stuck:?}"));
            chats.push(chat);
        }
    }
    let pushed = support::eventually(Duration::from_secs(30), || async {
        let assets = h.assets().await;
        assets.len() == STUCK.len() && assets.iter().all(|a| a.dispatched_generation == a.generation)
    })
    .await;
    assert!(pushed, "the prompts were never pushed\n{}", h.logs());
    chats
}

fn stuck_of(job_key: &str, assets: &[vidcache::db::entities::video_assets::Model]) -> Stuck {
    let asset =
        assets.iter().find(|a| job_key == format!("asset:{}:generation:{}", a.id.0, a.generation)).expect("a job of ours");
    let i = STUCK.iter().position(|s| asset.prompt.to_lowercase().ends_with(&format!("{s:?}").to_lowercase())).expect("prompt");
    STUCK[i]
}

/// Every chat gets its video once, and each prompt was generated once.
async fn each_delivered_once(h: &Harness, chats: &[i64], within: Duration) {
    let all = chats.to_vec();
    let delivered = h.fake.wait_for(move |sent| all.iter().all(|chat| !videos_to(sent, *chat).is_empty()), within).await;
    assert!(delivered, "some stuck jobs were never run again within {within:?}\n{}", h.logs());
    let sent = h.fake.sent();
    for chat in chats {
        assert_eq!(videos_to(&sent, *chat).len(), 1, "chat {chat} got its video exactly once");
    }
    let assets = h.assets().await;
    let generations: i32 = assets.iter().map(|a| a.attempts).sum();
    assert_eq!(generations, assets.len() as i32, "one generation per prompt");
}

/// Stalled (2 × lease) plus a reconciler pass (lease / 2) and the worker's start, with room.
const STALL_BOUND: Duration = Duration::from_secs(20);

/// SQL-backed queues: each job row is left in a [`Stuck`] state.
async fn stuck_rows(h: &Harness, queue: &sea_orm::DatabaseConnection, postgres: bool) {
    use sea_orm::{ConnectionTrait, Statement};
    let (jobs, workers, now) =
        if postgres { ("apalis.jobs", "apalis.workers", "now()") } else { ("Jobs", "Workers", "strftime('%s', 'now')") };
    // a worker apalis still believes alive
    queue
        .execute_unprepared(&format!(
            "INSERT INTO {workers} (id, worker_type, storage_name, layers, last_seen) \
             VALUES ('a-dead-worker', '{QUEUE}', 'test', '', {now})",
            QUEUE = queue::QUEUE_NAME
        ))
        .await
        .expect("a worker row");
    let assets = h.assets().await;
    let keys = queue
        .query_all_raw(Statement::from_string(queue.get_database_backend(), format!("SELECT idempotency_key FROM {jobs}")))
        .await
        .expect("job keys");
    assert_eq!(keys.len(), STUCK.len(), "one job per prompt");
    for row in keys {
        let key: String = row.try_get("", "idempotency_key").expect("key");
        let set = match stuck_of(&key, &assets) {
            Stuck::Failed => format!("status = 'Failed', attempts = max_attempts, done_at = {now}"),
            Stuck::Done => format!("status = 'Done', attempts = 1, done_at = {now}"),
            Stuck::Killed => format!("status = 'Killed', attempts = 1, done_at = {now}"),
            Stuck::RunningForADeadWorker => format!("status = 'Running', lock_by = 'a-dead-worker', lock_at = {now}"),
        };
        queue
            .execute_unprepared(&format!("UPDATE {jobs} SET {set} WHERE idempotency_key = '{key}'"))
            .await
            .expect("job left stuck");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_left_failed_done_killed_or_running_is_run_again_on_sqlite() {
    let mut h = Harness::new().await;
    short_leases(&mut h);
    let bot = h.spawn_with("bot", &[]);
    h.wait_polling().await;
    let chats = pushed_but_not_run(&h, 7_000).await;
    let file = h.data_dir().join("queue.sqlite");
    let queue = sea_orm::Database::connect(format!("sqlite://{}", file.display())).await.expect("the queue file opens");
    stuck_rows(&h, &queue, false).await;
    let worker = h.spawn_with("worker", &[]);
    each_delivered_once(&h, &chats, STALL_BOUND).await;
    worker.terminate().await;
    bot.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_left_failed_done_killed_or_running_is_run_again_on_postgres() {
    let Some(database_url) = support::postgres_database().await else { return };
    let mut h = Harness::new().await;
    short_leases(&mut h);
    h.set("DATABASE_URL", &database_url);
    let bot = h.spawn_with("bot", &[]);
    h.wait_polling().await;
    let chats = pushed_but_not_run(&h, 7_100).await;
    stuck_rows(&h, &h.db().await, true).await;
    let worker = h.spawn_with("worker", &[]);
    each_delivered_once(&h, &chats, STALL_BOUND).await;
    worker.terminate().await;
    bot.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_left_failed_done_killed_or_running_is_run_again_on_redis() {
    let port = free_port();
    let Some(redis) = OwnRedis::start(port) else { return };
    redis.wait_ready().await;
    let mut h = Harness::new().await;
    short_leases(&mut h);
    let url = format!("redis://127.0.0.1:{port}");
    h.set("QUEUE_URL", &url);
    let bot = h.spawn_with("bot", &[]);
    h.wait_polling().await;
    let chats = pushed_but_not_run(&h, 7_200).await;

    // apalis-redis 1.0's layout: a task waits in `scheduled` (due) or `active`;
    // a finished one sits in `done` or `dead`; a fetched one in a worker's `inflight` set.
    let q = queue::QUEUE_NAME;
    let mut conn = redis::Client::open(url.as_str()).expect("url").get_multiplexed_async_connection().await.expect("redis");
    let assets = h.assets().await;
    let tasks: Vec<String> = redis::cmd("HKEYS").arg(format!("{q}:data")).query_async(&mut conn).await.expect("tasks");
    assert_eq!(tasks.len(), STUCK.len(), "one task per prompt");
    for task in tasks {
        let meta = format!("{q}:meta:{task}");
        let key: String = redis::cmd("HGET").arg(&meta).arg("idempotency_key").query_async(&mut conn).await.expect("key");
        let stuck = stuck_of(&key, &assets);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("ZREM")
            .arg(format!("{q}:scheduled"))
            .arg(&task)
            .cmd("LREM")
            .arg(format!("{q}:active"))
            .arg(0)
            .arg(&task);
        match stuck {
            Stuck::Failed | Stuck::Killed => pipe
                .cmd("SADD")
                .arg(format!("{q}:dead"))
                .arg(&task)
                .cmd("HSET")
                .arg(&meta)
                .arg("status")
                .arg(format!("{stuck:?}")),
            Stuck::Done => pipe.cmd("SADD").arg(format!("{q}:done")).arg(&task).cmd("HSET").arg(&meta).arg("status").arg("Done"),
            Stuck::RunningForADeadWorker => pipe
                .cmd("SADD")
                .arg(format!("{q}:inflight:a-dead-worker"))
                .arg(&task)
                .cmd("HSET")
                .arg(&meta)
                .arg("status")
                .arg("Running"),
        };
        let () = pipe.query_async(&mut conn).await.expect("task left stuck");
    }
    let worker = h.spawn_with("worker", &[]);
    each_delivered_once(&h, &chats, STALL_BOUND).await;
    worker.terminate().await;
    bot.terminate().await;
    drop(redis);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wiped_sqlite_job_table_strands_nothing() {
    let mut h = Harness::new().await;
    h.set("LOCAL_GENERATOR_DELAY_MS", "1500");
    h.set("WORKER_CONCURRENCY", "1");
    let service = h.spawn();
    h.wait_polling().await;
    let prompts: Vec<String> = (0..8).map(|i| format!("wiped queue prompt {i}")).collect();
    let mut chats = Vec::new();
    for (i, prompt) in prompts.iter().enumerate() {
        for user in 0..3 {
            let chat = 7_500 + (i as i64) * 10 + user;
            h.fake.push_text(chat, chat, prompt);
            chats.push(chat);
        }
    }
    let pushed = support::eventually(Duration::from_secs(30), || async {
        let assets = h.assets().await;
        assets.len() == prompts.len() && assets.iter().all(|a| a.dispatched_generation == a.generation)
    })
    .await;
    assert!(pushed, "the burst was never fully dispatched\n{}", h.logs());
    // the job table is wiped while one job runs and the rest wait
    let file = h.data_dir().join("queue.sqlite");
    let queue = sea_orm::Database::connect(format!("sqlite://{}", file.display())).await.expect("the queue file opens");
    use sea_orm::ConnectionTrait;
    let wiped = queue.execute_unprepared("DELETE FROM Jobs").await.expect("jobs deleted");
    assert!(wiped.rows_affected() >= 1, "there were jobs to wipe");
    let delivered = h.assets().await.iter().filter(|a| a.file_id.is_some()).count();
    assert!(delivered < prompts.len(), "the burst was over before the wipe");
    each_delivered_once(&h, &chats, Duration::from_secs(90)).await;
    assert_eq!(h.fake.uploads(), prompts.len(), "one upload per prompt");
    service.terminate().await;
}

async fn livez(port: u16) -> Option<u16> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().expect("client");
    let response = client.get(format!("http://127.0.0.1:{port}/livez")).send().await.ok()?;
    Some(response.status().as_u16())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_is_ridden_out_and_what_waited_is_delivered_once() {
    let port = free_port();
    let Some(mut redis) = OwnRedis::start(port) else { return };
    redis.wait_ready().await;
    let admin = free_port();
    let mut h = Harness::new().await;
    h.set("QUEUE_URL", &format!("redis://127.0.0.1:{port}"));
    h.set("ADMIN_LISTEN_ADDR", &format!("127.0.0.1:{admin}"));
    h.set("LOCAL_GENERATOR_DELAY_MS", "0");
    let mut service = h.spawn();
    h.wait_polling().await;
    h.fake.push_text(1, 1, "made before the outage");
    h.video_for(1, 0).await;

    // Redis dies (SIGKILL) and stays away for about five seconds
    redis.kill();
    let down = Instant::now();
    let waiting: Vec<i64> = (0..6).map(|i| 8_000 + i).collect();
    for (i, chat) in waiting.iter().enumerate() {
        h.fake.push_text(*chat, *chat, &format!("asked during the outage {}", i % 3));
    }
    // a cache hit needs no Redis: answered during the outage
    h.fake.push_text(2, 2, "made before the outage");
    let hit = h.fake.wait_for(|sent| !videos_to(sent, 2).is_empty(), Duration::from_secs(4)).await;
    assert!(hit, "a cache hit was not answered during the outage\n{}", h.logs());
    assert_eq!(livez(admin).await, Some(200), "the process stopped answering /livez during the outage");
    tokio::time::sleep(Duration::from_secs(5).saturating_sub(down.elapsed())).await;
    assert!(service.child.try_wait().expect("status").is_none(), "the process exited during the outage\n{}", h.logs());
    assert!(waiting.iter().all(|chat| videos_to(&h.fake.sent(), *chat).is_empty()), "a generation ran without its queue");

    // Redis comes back empty
    let mut redis = OwnRedis::start(port).expect("redis-server restarts");
    redis.wait_ready().await;
    each_delivered_once(&h, &waiting, Duration::from_secs(60)).await;
    assert_eq!(h.fake.uploads(), 4, "one upload per prompt");
    let log = h.logs();
    let restarts = log.matches("restarting it with backoff").count();
    assert!(restarts <= 3, "{restarts} lines about restarting the worker in a five-second outage\n{log}");
    assert_eq!(livez(admin).await, Some(200));
    service.terminate().await;
    redis.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_starts_while_redis_is_away_and_works_once_it_is_back() {
    let port = free_port();
    let mut h = Harness::new().await;
    h.set("QUEUE_URL", &format!("redis://127.0.0.1:{port}"));
    h.set("LOCAL_GENERATOR_DELAY_MS", "0");
    let service = h.spawn();
    h.wait_polling().await;
    h.fake.push_text(3, 3, "asked before Redis was up");
    // The prompt is recorded while the queue is away.
    let recorded = support::eventually(Duration::from_secs(30), || async { !h.requests().await.is_empty() }).await;
    assert!(recorded, "the prompt was not recorded while Redis was away\n{}", h.logs());
    let Some(mut redis) = OwnRedis::start(port) else { return };
    redis.wait_ready().await;
    each_delivered_once(&h, &[3], Duration::from_secs(30)).await;
    service.terminate().await;
    redis.kill();
}
