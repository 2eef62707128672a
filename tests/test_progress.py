"""Progress: plain lines per epoch off a terminal, a step bar on one, nothing when quiet."""

import io

from hourglass.train.progress import Progress


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_off_a_terminal_each_epoch_is_one_plain_line_with_the_loss_named():
    stream = io.StringIO()
    progress = Progress("AutoEncoder", 3, 4, 1, "bce", verbose=1, stream=stream, min_interval=0)
    for epoch in (1, 2):
        for _ in range(4):
            progress.step()
        progress.epoch_end(epoch, 0.5 / epoch, 0.6 / epoch, 1e-3, 1.25)
    progress.close()
    lines = stream.getvalue().splitlines()
    assert lines == [
        "AutoEncoder epoch 1/3: train bce 0.5, val bce 0.6, lr 0.001, 1.2 s",
        "AutoEncoder epoch 2/3: train bce 0.25, val bce 0.3, lr 0.001, 1.2 s",
    ]
    assert "\r" not in stream.getvalue()


def test_an_epoch_under_a_second_is_shown_in_milliseconds_not_as_zero():
    stream = io.StringIO()
    progress = Progress("AutoEncoder", 1, 1, 1, "mse", verbose=1, stream=stream, min_interval=0)
    progress.epoch_end(1, 0.5, 0.6, 1e-3, 0.0213)
    assert stream.getvalue().rstrip().endswith("lr 0.001, 21 ms")


def test_on_a_terminal_the_bar_counts_steps():
    stream = Terminal()
    progress = Progress("AutoEncoder", 2, 5, 1, "mse", verbose=1, stream=stream)
    for _ in range(7):
        progress.step()
    assert progress.bar.n == 7 and progress.bar.total == 10
    progress.epoch_end(1, 0.1, float("nan"), 1e-3, 1.0)
    progress.close()
    assert "step" in stream.getvalue()


def test_quiet_writes_nothing(make_ae, unit_data, capsys):
    make_ae(verbose=0).fit(unit_data)
    assert capsys.readouterr().err == ""


def test_a_fit_reports_each_epoch_in_plain_lines_when_not_on_a_terminal(make_ae, unit_data, capsys):
    make_ae(verbose=1, epochs=2, patience=0).fit(unit_data)
    err = capsys.readouterr().err
    assert err.count("epoch 1/2") == 1 and err.count("epoch 2/2") == 1 and "\r" not in err


def test_plain_lines_are_rate_limited_but_keep_the_first_and_last_epochs():
    stream = io.StringIO()
    progress = Progress("AutoEncoder", 300, 1, 1, "mse", verbose=1, stream=stream, min_interval=3600)
    for epoch in range(1, 301):
        progress.epoch_end(epoch, 0.1, 0.1, 1e-3, 0.1)
    lines = stream.getvalue().splitlines()
    assert [line.split(":")[0] for line in lines] == ["AutoEncoder epoch 1/300", "AutoEncoder epoch 300/300"]


def test_a_run_that_stops_early_ends_on_its_last_epoch_line():
    stream = io.StringIO()
    progress = Progress("AutoEncoder", 300, 1, 1, "mse", verbose=1, stream=stream, min_interval=3600)
    for epoch in range(1, 269):  # early stopping ended it at epoch 268 of 300
        progress.epoch_end(epoch, 0.1, 0.2, 1e-3, 0.1)
    progress.close()
    lines = stream.getvalue().splitlines()
    assert [line.split(":")[0] for line in lines] == ["AutoEncoder epoch 1/300", "AutoEncoder epoch 268/300"]


def test_a_plan_shorter_than_the_cap_is_the_denominator_marked_as_an_estimate():
    # A time budget planned the run to end near epoch 44 of a 280-epoch cap.
    stream = io.StringIO()
    progress = Progress("AutoEncoder", 280, 10, 1, "mse", verbose=1, stream=stream, min_interval=0)
    progress.replan(435)
    progress.epoch_end(37, 0.1, 0.2, 1e-3, 0.1)
    progress.replan(2800)  # the plan reached the cap again: the cap is the total
    progress.epoch_end(38, 0.1, 0.2, 1e-3, 0.1)
    lines = [line.split(":")[0] for line in stream.getvalue().splitlines()]
    assert lines == ["AutoEncoder epoch 37/~44", "AutoEncoder epoch 38/280"]


def test_a_planned_last_epoch_is_shown_though_rate_limited():
    stream = io.StringIO()
    progress = Progress("AutoEncoder", 300, 1, 1, "mse", verbose=1, stream=stream, min_interval=3600)
    progress.replan(44)
    for epoch in range(1, 45):
        progress.epoch_end(epoch, 0.1, 0.1, 1e-3, 0.1)
    lines = [line.split(":")[0] for line in stream.getvalue().splitlines()]
    assert lines == ["AutoEncoder epoch 1/~44", "AutoEncoder epoch 44/~44"]


def test_an_adaptive_fit_counts_its_epochs_against_its_plan_not_the_cap(make_ae, unit_data, capsys):
    # Learning stops gaining within the first plan of 500 steps (125 epochs) of a 300-epoch cap.
    model = make_ae(verbose=1, epochs="auto", patience=0).fit(unit_data)
    lines = [line.split(":")[0] for line in capsys.readouterr().err.splitlines()]
    ran = len(model.history_.epoch)
    assert "plan of 500 steps" in model.history_.stop_reason
    assert lines[0] == "AutoEncoder epoch 1/~125" and lines[-1] == f"AutoEncoder epoch {ran}/~{ran}"
