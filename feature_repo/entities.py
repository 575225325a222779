"""The things features describe: airports, airlines and aircraft."""

from feast import Entity, ValueType

airport = Entity(
    name="airport",
    join_keys=["origin"],
    value_type=ValueType.STRING,
    description="A New York origin airport, by FAA code (EWR, JFK, LGA).",
)

carrier = Entity(
    name="carrier",
    join_keys=["carrier"],
    value_type=ValueType.STRING,
    description="An airline, by its two-letter carrier code.",
)

aircraft = Entity(
    name="aircraft",
    join_keys=["tailnum"],
    value_type=ValueType.STRING,
    description="An aircraft, by tail number.",
)
