"""How ready nodes are grouped into task messages."""

from engine.dispatch import messages


def test_up_to_the_spread_each_node_goes_alone(settings):
    settings.ENGINE_DISPATCH_SPREAD = 16
    assert messages([1, 2, 3]) == [[1], [2], [3]]
    assert len(messages(list(range(16)))) == 16


def test_a_wider_fan_out_goes_in_as_many_messages_as_the_spread(settings):
    settings.ENGINE_DISPATCH_SPREAD = 16
    ready = list(range(100, 199))

    sent = messages(ready)

    assert len(sent) == 16
    assert sorted(node for message in sent for node in message) == ready
    assert {len(message) for message in sent} == {6, 7}
