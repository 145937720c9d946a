"""The benchmark harness: offline tasks, models configured by activation spec, a resumable trainer,
activation comparisons with reports, paper reproductions and distributed training cells."""
