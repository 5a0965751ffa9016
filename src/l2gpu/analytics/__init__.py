"""Analytics on real data: adoption curves, an adoption simulator, usage patterns,
demand forecasting and automated allocation (issue #7).

    series      read a user's CSV into a validated time series (the CLI's way in)
    datasets    loaders for the shared data sets (``../shared/data`` beside the checkout)
    adoption/   Bass, logistic and Gompertz fits, model choice, bootstrap bands, Rogers segments
    abm/        agent-based adoption of L1 vs L2 designs: vectorized numpy and a Mesa twin
    usage       seasonality, utilization, queueing and job-size profiles of GPU clusters
    forecast    statsforecast models with rolling-origin backtests (MASE, sMAPE)
    allocation/ trace-driven cluster simulator, scheduling policies, own-vs-rent decisions
    plots       PNG figures (matplotlib, Agg backend)

Analytics works in floats and USD; the market's integer wei stays on the market side.
Every error a user can cause is an :class:`l2gpu.core.errors.L2gpuError`.
"""
