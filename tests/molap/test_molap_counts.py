"""Parameter counts equal hand-computed values."""

import pytest

from ctxrnn.molap import counts

N_IN = [3, 3, 3, 3, 2, 2, 3, 3, 3]   # 25 input channels in all
N_OUT = [3, 3, 3, 3, 2, 2, 2, 2, 2]  # 22 output channels in all


def test_molap_counts_by_hand():
    c = counts.molap_counts(N_IN, N_OUT, units=100, module_sizes=(50, 50),
                            pretrain_iterations=200, head_iterations=200)
    heads = 100 * 25 + 100 * 22 + 22                     # W_in blocks, readouts, readout biases
    phases = 2 * (50 * 50 + 50 + 50 + 1)                 # intra block + phase input/readout
    assert c.overall == 100 * 100 + heads == 14722
    assert c.trained == phases + heads == 9924
    assert c.per_task == pytest.approx(heads / 9)
    assert c.updates == 200 * phases + 200 * heads == 1_984_800
    with_h0 = counts.molap_counts(N_IN, N_OUT, initial_state=True)
    assert with_h0.overall == c.overall + 9 * 100
    biased = counts.molap_counts(N_IN, N_OUT, pretrain_iterations=200, head_iterations=200,
                                 input_bias=True)     # one bias row of W_in per head
    assert biased.trained == c.trained + 9 * 100
    assert biased.updates == c.updates + 200 * 9 * 100


def test_baseline_counts_by_hand():
    sep = counts.separate_counts(N_IN, N_OUT, units=100, iterations=200)
    assert sep.overall == sep.trained == 9 * 100 * 100 + 4722 == 94722
    assert sep.updates == 200 * 94722
    dni = counts.dni_counts(N_IN, N_OUT, units=200, iterations=1800)
    assert dni.overall == 200 * 200 + 200 * 25 + 200 * 22 + 22 == 49422
    assert dni.updates == 1800 * 49422
    sequential = counts.dni_counts(N_IN, N_OUT, units=200, iterations=200, joint=False)
    assert sequential.updates == 200 * (9 * 40000 + 200 * 25 + 200 * 22 + 22)
    assert counts.separate_counts(N_IN, N_OUT, input_bias=True).overall == 94722 + 9 * 100
    assert counts.dni_counts(N_IN, N_OUT, input_bias=True).overall == 49422 + 9 * 200


def test_paper_assumption_reproduces_table1_up_to_the_power_of_ten():
    assumed = counts.paper_assumption_counts()
    assert assumed["separate"].overall == 91800        # paper: 9.18e5
    assert assumed["dni"].overall == 10200             # paper: 1.02e5
    assert assumed["dni"].trained == 91800             # paper: 9.18e5
    assert assumed["molap"].overall == 11800           # paper: 1.2e5
    assert assumed["molap"].per_task == 200            # paper: 2e2
    assert assumed["molap"].trained == 5000 + 9 * 200  # paper: 5.2e3 = 5000 + one head


def test_table_and_ratios():
    measured = {"molap": counts.molap_counts(N_IN, N_OUT),
                "separate": counts.separate_counts(N_IN, N_OUT),
                "dni": counts.dni_counts(N_IN, N_OUT, iterations=1800)}
    text = counts.table1_markdown(measured)
    assert "9.18e+05" in text and text.count("\n") == 13
    r = counts.ratios(measured)
    assert r["updates_dni_over_molap"] == pytest.approx(1800 * 49422 / 1_984_800)
    molap, dni = measured["molap"], measured["dni"]
    assert r["per_task_dni_over_molap"] == pytest.approx(dni.per_task / molap.per_task)
    assert r["per_task_dni_over_molap"] > 50  # a new task: W_rec + head vs one head
    with pytest.raises(ValueError, match="n_inputs"):
        counts.molap_counts([1, 2], [1])
