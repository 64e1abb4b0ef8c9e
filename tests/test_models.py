"""The networks' printed architecture: every layer with its parameters, or only the layers that hold parameters or
drop out, the total the same."""
import models


def test_the_compact_layer_table_keeps_the_weighted_and_dropout_layers_and_the_total():
    net = models.DeepCNN()
    full, compact = models.layer_table(net), models.layer_table(net, compact=True)
    assert full.loc["total", "parameters"] == compact.loc["total", "parameters"] == sum(p.numel() for p in net.parameters())
    assert set(compact.index) < set(full.index)
    kept = full[(full.parameters > 0) | (full.dropout != "")]
    assert list(compact.index) == list(kept.index)
    assert "ReLU" in set(full.type) and "ReLU" not in set(compact.type)
