"""Analytics on real data: adoption curves, an adoption simulator, usage patterns,
demand forecasting and automated allocation (issue #7).

    series      read a user's CSV into a validated time series (the CLI's way in)
    datasets    loaders for the shared data sets (``../shared/data`` beside the checkout)
    adoption/   Bass, logistic and Gompertz fits, model choice, bootstrap bands, Rogers segments
    abm/        agent-based adoption of L1 vs L2 designs: vectorized numpy and a Mesa twin
    usage       seasonality, utilization, queueing and job-size profiles of GPU clusters
    forecast    the shown forecast of ``l2gpu forecast``: the nested backtest's choice
    backtest    rolling-origin backtests: origins, per-origin record, ranked ensembles
    selection   metrics, the nested model choice, the final choice and its verdict
    candidates  baselines, statsforecast models, S-curves; gbm: LightGBM on lag features
    judge       forecast_with_choice (quantiles for callers) and the backtest report
    named_series, forecast_docs   the built-in series and docs/forecasts.md
    allocation/ trace-driven cluster simulator, scheduling policies, own-vs-rent decisions
                (own_rent: under forecast quantiles, with regret; reserve: capacity held
                ahead of forecast peaks)
    price_acceptance, price_suggest   how often an offer at a price is rented; a
                provider's price from it, backtested against a fixed price
    plots       PNG figures (matplotlib, Agg backend)

Analytics works in floats and USD; the market's integer wei stays on the market side.
Every error a user can cause is an :class:`l2gpu.core.errors.L2gpuError`.
"""
