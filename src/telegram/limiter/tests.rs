use super::*;

#[tokio::test(start_paused = true)]
async fn a_single_send_is_not_delayed() {
    let limiter = FloodLimiter::new(30, 2, None);
    let before = Instant::now();
    limiter.acquire(1, Priority::Interactive).await;
    assert_eq!(Instant::now(), before);
}

#[tokio::test(start_paused = true)]
async fn one_second_holds_at_most_the_global_rate() {
    let limiter = std::sync::Arc::new(FloodLimiter::new(30, 2, None));
    let start = Instant::now();
    let mut handles = Vec::new();
    for chat in 0..90 {
        let limiter = limiter.clone();
        handles.push(tokio::spawn(async move {
            limiter.acquire(chat, Priority::Bulk).await;
            Instant::now()
        }));
    }
    let mut times = Vec::new();
    for h in handles {
        times.push(h.await.expect("task") - start);
    }
    times.sort();
    for (i, t) in times.iter().enumerate() {
        let in_window = times[i..].iter().take_while(|u| **u < *t + Duration::from_secs(1)).count();
        assert!(in_window <= 30, "{in_window} sends within 1 s from {t:?}");
    }
    assert!(times[89] < Duration::from_secs(3) + Duration::from_millis(50));
}

#[tokio::test(start_paused = true)]
async fn an_interactive_send_overtakes_a_queued_burst() {
    let limiter = FloodLimiter::new(30, 2, None);
    let start = Instant::now();
    let mut bulk = Vec::new();
    for chat in 0..300 {
        let limiter = limiter.clone();
        bulk.push(tokio::spawn(async move {
            limiter.acquire(chat, Priority::Bulk).await;
            Instant::now()
        }));
    }
    // the burst is queued up, about 10 s of it
    tokio::time::sleep(Duration::from_millis(500)).await;
    let asked = Instant::now();
    limiter.acquire(10_000, Priority::Interactive).await;
    let waited = Instant::now() - asked;
    assert!(waited <= Duration::from_millis(40), "the answer waited {waited:?} behind the burst");
    let mut done = Vec::new();
    for handle in bulk {
        done.push(handle.await.expect("task") - start);
    }
    done.sort();
    // the burst still goes at the full rate: 300 sends (plus the one answer) in about 10 s
    assert!(done[299] <= Duration::from_millis(10_100), "the burst took {:?}", done[299]);
}

#[tokio::test(start_paused = true)]
async fn paid_broadcasts_have_a_budget_of_their_own() {
    let limiter = FloodLimiter::with_paid_broadcast(30, 2, None, Some(1000));
    let start = Instant::now();
    let mut sends = Vec::new();
    for chat in 0..1000 {
        let limiter = limiter.clone();
        sends.push(tokio::spawn(async move { limiter.acquire(chat, Priority::Broadcast).await }));
    }
    for send in sends {
        send.await.expect("task");
    }
    assert!(Instant::now() - start <= Duration::from_millis(1000), "1,000 paid sends took {:?}", Instant::now() - start);
    // the free budget is untouched: an answer goes at once
    let asked = Instant::now();
    limiter.acquire(5_000, Priority::Interactive).await;
    assert_eq!(Instant::now(), asked);
}

#[tokio::test(start_paused = true)]
async fn a_429_pauses_the_paid_lane_and_the_free_budget_for_exactly_retry_after() {
    let limiter = FloodLimiter::with_paid_broadcast(30, 2, None, Some(1000));
    limiter.acquire(1, Priority::Broadcast).await;
    // that paid send came back 429, retry after 3 s
    let frozen = Instant::now();
    limiter.freeze(Duration::from_secs(3)).await;
    let paid = {
        let limiter = limiter.clone();
        tokio::spawn(async move {
            limiter.acquire(2, Priority::Broadcast).await;
            Instant::now()
        })
    };
    let free = {
        let limiter = limiter.clone();
        tokio::spawn(async move {
            limiter.acquire(3, Priority::Interactive).await;
            Instant::now()
        })
    };
    let (paid, free) = (paid.await.expect("task") - frozen, free.await.expect("task") - frozen);
    assert!(paid >= Duration::from_secs(3), "the paid lane went on during the pause, after {paid:?}");
    assert!(free >= Duration::from_secs(3), "a free send went on during the pause, after {free:?}");
    assert!(free <= Duration::from_secs(3) + Duration::from_millis(40), "the free budget stayed frozen for {free:?}");
    // the paid backlog resumes at its own rate, not in one burst
    let resumed = Instant::now();
    let mut sends = Vec::new();
    for chat in 100..200 {
        let limiter = limiter.clone();
        sends.push(tokio::spawn(async move {
            limiter.acquire(chat, Priority::Broadcast).await;
            Instant::now()
        }));
    }
    let mut last = resumed;
    for send in sends {
        last = last.max(send.await.expect("task"));
    }
    let took = last - resumed;
    assert!(took >= Duration::from_millis(98), "100 paid sends after the pause took {took:?} (1,000/s at most)");
    assert!(took <= Duration::from_millis(150), "100 paid sends after the pause took {took:?}");
}

#[tokio::test(start_paused = true)]
async fn a_group_gets_at_most_20_messages_in_any_minute() {
    let limiter = FloodLimiter::new(30, 2, None);
    let start = Instant::now();
    let mut times = Vec::new();
    for _ in 0..45 {
        limiter.acquire(-100_123, Priority::Bulk).await;
        times.push(Instant::now() - start);
    }
    for i in GROUP_PER_MINUTE..times.len() {
        let span = times[i] - times[i - GROUP_PER_MINUTE];
        assert!(span >= Duration::from_secs(60), "21 sends within {span:?}: {times:?}");
    }
    // the pace is the limit's, not slower: 45 sends within about two minutes
    assert!(times[44] <= Duration::from_secs(130), "{times:?}");
    // a private chat is not held up by it (one global slot at most)
    let asked = Instant::now();
    limiter.acquire(42, Priority::Interactive).await;
    assert!(Instant::now() - asked <= Duration::from_millis(40));
}

#[tokio::test(start_paused = true)]
async fn a_429_for_one_chat_pauses_only_that_chat() {
    let limiter = FloodLimiter::new(30, 2, None);
    limiter.flood_wait(-1005, Duration::from_secs(5)).await;
    let asked = Instant::now();
    limiter.acquire(7, Priority::Interactive).await;
    limiter.acquire(-1006, Priority::Bulk).await;
    assert!(Instant::now() - asked <= Duration::from_millis(100), "other chats waited");
    limiter.acquire(-1005, Priority::Interactive).await;
    let waited = Instant::now() - asked;
    assert!(waited >= Duration::from_secs(5) && waited <= Duration::from_millis(5_150), "the flooded chat waited {waited:?}");
}

#[tokio::test(start_paused = true)]
async fn several_chats_refused_at_once_pause_everything() {
    let limiter = FloodLimiter::new(30, 2, None);
    for chat in [-1, 2, -3] {
        limiter.flood_wait(chat, Duration::from_secs(4)).await;
    }
    let asked = Instant::now();
    limiter.acquire(99, Priority::Interactive).await;
    assert!(Instant::now() - asked >= Duration::from_secs(4), "the bot went on through a flood of 429s");
}

#[tokio::test(start_paused = true)]
async fn a_429_in_a_private_chat_pauses_only_that_chat() {
    let limiter = FloodLimiter::with_paid_broadcast(30, 2, None, Some(1000));
    let flooded = 5;
    limiter.acquire(flooded, Priority::Interactive).await;
    let refused = Instant::now();
    limiter.flood_wait(flooded, Duration::from_secs(3)).await;
    // every other chat, private or group, free or paid, goes at once
    limiter.acquire(6, Priority::Interactive).await;
    limiter.acquire(7, Priority::Bulk).await;
    limiter.acquire(-100_200, Priority::Bulk).await;
    limiter.acquire(8, Priority::Broadcast).await;
    // (three free sends at 30/s after the flooded chat's: 100 ms of global budget)
    assert!(Instant::now() - refused <= Duration::from_millis(150), "other chats waited {:?}", Instant::now() - refused);
    // the flooded chat's next sends wait out the pause, then go at the chat's rate (no burst)
    let mut times = Vec::new();
    for _ in 0..3 {
        limiter.acquire(flooded, Priority::Interactive).await;
        times.push(Instant::now() - refused);
    }
    assert!(times[0] >= Duration::from_secs(3), "the flooded chat went after {:?}", times[0]);
    assert!(times[0] <= Duration::from_millis(3_100), "the flooded chat waited {:?}", times[0]);
    assert!(times[1] - times[0] >= Duration::from_millis(990), "{times:?}");
    assert!(times[2] - times[1] >= Duration::from_millis(990), "{times:?}");
}

#[tokio::test(start_paused = true)]
async fn a_send_queued_for_the_budget_waits_out_a_429_that_came_meanwhile() {
    let limiter = FloodLimiter::new(10, 2, None);
    // a burst fills the global budget for a second
    let mut burst = Vec::new();
    for chat in 100..120 {
        let limiter = limiter.clone();
        burst.push(tokio::spawn(async move { limiter.acquire(chat, Priority::Interactive).await }));
    }
    tokio::task::yield_now().await;
    // a send to chat 5 is past its chat's turn, in line for the budget
    let queued = {
        let limiter = limiter.clone();
        tokio::spawn(async move {
            limiter.acquire(5, Priority::Bulk).await;
            Instant::now()
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    // meanwhile another send to chat 5 was answered 429, retry after 4 s
    let refused = Instant::now();
    limiter.flood_wait(5, Duration::from_secs(4)).await;
    let went = queued.await.expect("task");
    assert!(went - refused >= Duration::from_secs(4), "the queued send went {:?} after the 429", went - refused);
    for send in burst {
        send.await.expect("task");
    }
}

#[tokio::test(start_paused = true)]
async fn a_longer_pause_is_not_cut_short_by_a_shorter_one() {
    let limiter = FloodLimiter::new(30, 2, None);
    let refused = Instant::now();
    limiter.flood_wait(9, Duration::from_secs(6)).await;
    limiter.flood_wait(9, Duration::from_secs(1)).await;
    limiter.acquire(9, Priority::Interactive).await;
    assert!(Instant::now() - refused >= Duration::from_secs(6));
}

#[tokio::test(start_paused = true)]
async fn freeze_pauses_everything() {
    let limiter = FloodLimiter::new(30, 2, None);
    limiter.freeze(Duration::from_secs(5)).await;
    let before = Instant::now();
    limiter.acquire(7, Priority::Interactive).await;
    assert!(Instant::now() - before >= Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn an_absurd_freeze_panics_nothing_and_is_capped() {
    let limiter = FloodLimiter::with_paid_broadcast(30, 2, None, Some(1000));
    limiter.freeze(Duration::MAX).await;
    let before = Instant::now();
    limiter.acquire(7, Priority::Interactive).await;
    let waited = Instant::now() - before;
    assert!(waited <= Duration::from_secs(60) + Duration::from_millis(100), "frozen for {waited:?}");
}

/// The tests on Redis database 14 run one at a time: each empties it first.
static REDIS_14: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Redis database 14 (the README lists those other tests use), or
/// `None` with a note when Redis is not running and this is not CI.
async fn redis_db_14() -> Option<String> {
    let base = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let url = format!("{base}/14");
    let client = redis::Client::open(url.as_str()).expect("redis url");
    match client.get_multiplexed_async_connection().await {
        Ok(mut conn) => {
            let _: () = redis::cmd("FLUSHDB").query_async(&mut conn).await.expect("flush redis db 14");
            Some(url)
        }
        Err(err) => {
            assert!(std::env::var_os("CI").is_none(), "Redis is required in CI: {err}");
            eprintln!("note: Redis not reachable ({err}); skipping");
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_together_never_exceed_the_paid_broadcast_rate() {
    let _one_at_a_time = REDIS_14.lock().await;
    let Some(url) = redis_db_14().await else { return };
    let rate = 100u32;
    let replica = async || {
        let shared = SharedBudget::connect(&url, 4242, 30, 2).await.expect("shared budget");
        FloodLimiter::with_paid_broadcast(30, 2, Some(shared), Some(rate))
    };
    let (a, b) = (replica().await, replica().await);
    // Each replica sends 100 paid broadcasts (to chats of their own) as
    // fast as its budget lets it: alone, each would take one second.
    let start = Instant::now();
    let send = |limiter: FloodLimiter, first_chat: i64| {
        tokio::spawn(async move {
            let mut times = Vec::new();
            for chat in first_chat..first_chat + 100 {
                limiter.acquire(chat, Priority::Broadcast).await;
                times.push(Instant::now());
            }
            times
        })
    };
    let (from_a, from_b) = (send(a, 1_000), send(b, 2_000));
    let mut times = from_a.await.expect("replica a");
    times.extend(from_b.await.expect("replica b"));
    times.sort();
    let took = times[times.len() - 1] - start;
    // 200 sends at 100/s between them: about two seconds.
    assert!(took >= Duration::from_millis(1_850), "200 paid sends of two replicas took {took:?}: the budget is not shared");
    for (i, t) in times.iter().enumerate() {
        let in_window = times[i..].iter().take_while(|u| **u < *t + Duration::from_secs(1)).count();
        // the rate, and a few for the wake-ups' jitter
        assert!(in_window <= rate as usize + 3, "{in_window} paid sends within 1 s from {:?}", *t - start);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_on_one_replica_pauses_that_chat_on_the_other_and_no_other_chat() {
    let _one_at_a_time = REDIS_14.lock().await;
    let Some(url) = redis_db_14().await else { return };
    let replica = async || {
        let shared = SharedBudget::connect(&url, 4343, 30, 2).await.expect("shared budget");
        FloodLimiter::new(30, 2, Some(shared))
    };
    let (a, b) = (replica().await, replica().await);
    let flooded = 777;
    a.acquire(flooded, Priority::Interactive).await;
    // replica a's send to the chat came back 429, retry after 2 s
    let refused = Instant::now();
    a.flood_wait(flooded, Duration::from_secs(2)).await;
    // replica b serves every other chat at once
    for chat in [778, 779, -100_780] {
        b.acquire(chat, Priority::Interactive).await;
    }
    let others = Instant::now() - refused;
    assert!(others <= Duration::from_millis(500), "other chats waited {others:?} on the other replica");
    // and holds its own sends to the flooded chat until the pause ends
    b.acquire(flooded, Priority::Interactive).await;
    let waited = Instant::now() - refused;
    assert!(waited >= Duration::from_millis(1_950), "replica b sent to the flooded chat after {waited:?}");
    assert!(waited <= Duration::from_millis(2_600), "replica b held the chat for {waited:?}");
    // the pause was the chat's: the bot was never frozen
    let mut conn = redis::Client::open(url.as_str()).expect("url").get_multiplexed_async_connection().await.expect("redis");
    let frozen: Option<i64> = redis::cmd("GET").arg("vidcache:flood:4343:frozen").query_async(&mut conn).await.expect("get");
    assert_eq!(frozen, None, "one chat's 429 froze every replica");
}
