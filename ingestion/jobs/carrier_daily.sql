-- name: carrier_daily
-- description: Rolling 7-day departure delay and cancellation statistics per airline.
-- entities: carrier
-- timestamp: event_timestamp
-- grain: day
-- start: 2013-01-01
-- column: carrier VARCHAR
-- column: event_timestamp TIMESTAMPTZ
-- column: flights_1d BIGINT not null min 1 | Flights scheduled on the day
-- column: flights_7d BIGINT not null min 1 | Flights scheduled over 7 days
-- column: avg_dep_delay_7d DOUBLE | Mean departure delay, 7 days
-- column: delayed_share_7d DOUBLE min 0 max 1 | Share of departures more than 15 minutes late, 7 days
-- column: cancel_rate_7d DOUBLE not null min 0 max 1 | Share cancelled, 7 days
-- column: cancel_rate_1d DOUBLE not null min 0 max 1 | Share cancelled on the day
--
-- A day's statistics become known when the day is over: the event timestamp is
-- local midnight (America/New_York) at the end of the flight date, so a flight never
-- sees statistics that include its own day. The window's rows need the 7 flight
-- dates before them: flights from 9 days before $start on are read.
WITH daily AS (
    SELECT
        carrier,
        make_date(year, month, day) AS flight_date,
        count(*) AS flights,
        count(*) FILTER (WHERE dep_time IS NULL) AS cancelled,
        count(*) FILTER (WHERE dep_delay > 15) AS delayed,
        sum(dep_delay) AS delay_sum,
        count(dep_delay) AS delay_n
    FROM flights
    WHERE time_hour >= $start - INTERVAL 9 DAY AND time_hour < $end
    GROUP BY ALL
)
SELECT
    carrier,
    timezone('America/New_York', CAST(flight_date + INTERVAL 1 DAY AS TIMESTAMP)) AS event_timestamp,
    flights AS flights_1d,
    CAST(sum(flights) OVER w7 AS BIGINT) AS flights_7d,
    sum(delay_sum) OVER w7 / nullif(sum(delay_n) OVER w7, 0) AS avg_dep_delay_7d,
    sum(delayed) OVER w7 / nullif(sum(delay_n) OVER w7, 0) AS delayed_share_7d,
    sum(cancelled) OVER w7 / sum(flights) OVER w7 AS cancel_rate_7d,
    cancelled / flights AS cancel_rate_1d
FROM daily
WINDOW w7 AS (
    PARTITION BY carrier ORDER BY flight_date
    RANGE BETWEEN INTERVAL 6 DAY PRECEDING AND CURRENT ROW
)
ORDER BY carrier, event_timestamp
