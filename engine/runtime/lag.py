"""Consumer lag: how many messages each consumer group has not yet committed, per partition.

Read from the broker (log end offsets and the group's committed offsets), so it is the
lag every worker in the group shares, not one process's view. A group that never
committed is behind by the whole topic.
"""

from kafka import TopicPartition
from kafka.admin import KafkaAdminClient, OffsetSpec


def consumer_lag(admin: KafkaAdminClient, group: str, topic: str) -> dict[int, int]:
    """Partition -> messages behind, for ``group`` on ``topic``."""
    [described] = admin.describe_topics([topic])
    partitions = [TopicPartition(topic, p["partition_index"]) for p in described["partitions"]]
    ends = admin.list_partition_offsets({tp: OffsetSpec.LATEST for tp in partitions})
    committed = admin.list_group_offsets({group: None}).get(group, {})
    lag = {}
    for tp in partitions:
        done = committed[tp].offset if tp in committed and committed[tp].offset >= 0 else 0
        lag[tp.partition] = max(ends[tp].offset - done, 0)
    return lag
