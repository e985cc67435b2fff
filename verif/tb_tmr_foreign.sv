// Test wrapper of tests/test_tmr_foreign.py: the Amaranth design of that test, plain
// (module foreign_plain) and hardened by the TMR pass (module foreign, with the added
// tmr_err port), side by side on the same inputs. The cocotb tests (verif/tb_tmr_foreign.py)
// drive the inputs, upset flip-flops in either design and compare the two output vectors.
module tb_tmr_foreign (
  input  logic        clk,
  input  logic        rst,
  input  logic        start,
  input  logic        we,
  input  logic [1:0]  waddr,
  input  logic [7:0]  wdata,
  input  logic [1:0]  raddr,
  output logic [24:0] out_plain,  // {rdata, acc, count, busy, done}
  output logic [24:0] out_hard,
  output logic        tmr_err
);
  logic [7:0] rdata_p, rdata_h;
  logic [9:0] acc_p, acc_h;
  logic [3:0] count_p, count_h;
  logic       busy_p, busy_h, done_p, done_h;

  foreign_plain u_plain (
    .clk, .rst, .start, .we, .waddr, .wdata, .raddr,
    .rdata(rdata_p), .acc(acc_p), .count(count_p), .busy(busy_p), .done(done_p)
  );

  foreign u_hard (
    .clk, .rst, .start, .we, .waddr, .wdata, .raddr,
    .rdata(rdata_h), .acc(acc_h), .count(count_h), .busy(busy_h), .done(done_h), .tmr_err
  );

  assign out_plain = {rdata_p, acc_p, count_p, busy_p, done_p};
  assign out_hard = {rdata_h, acc_h, count_h, busy_h, done_h};
endmodule
