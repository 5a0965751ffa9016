"""The Python face of each Vyper contract, one module per contract, below every shell
that drives them (node, fraud, payments, designs, scenarios):

- ``channel_manager``: ChannelManager (payment channels on L1);
- ``rollup``: Rollup (deposits, batches, exits, the freeze);
- ``dispute_game``: DisputeGame (challenges of a batch), with ``dispute_abi`` (its
  arguments' ABI encoding) and ``dispute_deploy`` (deploying it with its verifiers);
- ``channel_params``: the ChannelParams tuple that ChannelManager and Rollup share.
"""
