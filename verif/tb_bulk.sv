// Bulk-mode testbench: streams a vector file through the datapath (ae_core) and
// checks every result against the expected file, all inside the simulator (no
// Python per clock), for million-vector runs.
//   +weights=FILE   weight image, one hex byte per line ($readmemh)
//   +stimulus=FILE  per line, one hex word: {e-link mode (8 bits), TC NumTc-1 .. TC 0}
//   +expected=FILE  per line, one hex word: {sum code, output Units-1 .. output 0}
//   +count=N        number of lines
// One module is presented every II clocks; all lines must use one e-link mode.
// Widths, timing and the clock are parameters; the build passes the design's (verif/params.py).
module tb_bulk #(
  parameter int unsigned NumTc      = 1,
  parameter int unsigned TcBits     = 1,
  parameter int unsigned ImageBytes = 1,
  parameter int unsigned ImageBits  = 1,
  parameter int unsigned SumBits    = 1,
  parameter int unsigned Units      = 1,
  parameter int unsigned OutBits    = 1,
  parameter int unsigned ModeBits   = 1,
  parameter int unsigned II         = 1,
  parameter int unsigned Latency    = 1,
  parameter real         ClockNs    = 1.0
);
  localparam int unsigned MaxModules = 1 << 20;
  logic clk = 1'b0;
  logic rst_n = 1'b0;
  logic [NumTc*TcBits-1:0] tc;
  logic tc_valid = 1'b0;
  logic [ImageBits-1:0] weights;
  logic [ModeBits-1:0] elinks;
  logic [SumBits-1:0] sum;
  logic [Units*OutBits-1:0] out;
  logic valid;

  ae_core u_core (
    .clk_i(clk), .rst_ni(rst_n), .tc_i(tc), .tc_valid_i(tc_valid), .weights_i(weights),
    .elinks_i(elinks), .enable_i(1'b1), .sum_o(sum), .out_o(out), .valid_o(valid)
  );

  always #(ClockNs / 2) clk = ~clk;

  localparam int unsigned StimBits = 8 + NumTc * TcBits;    // {mode (8 bits), TC codes}
  localparam int unsigned ExpBits  = SumBits + Units * OutBits;  // {sum code, outputs}

  // the testbench's own memories are not the design: no toggle coverage for them
  /* verilator coverage_off */
  logic [7:0]          image [ImageBytes];
  logic [StimBits-1:0] stimulus [MaxModules];
  logic [ExpBits-1:0]  expected [MaxModules];
  string weights_file, stimulus_file, expected_file;
  int count;
  longint sent = 0, checked = 0, mismatches = 0;
  /* verilator coverage_on */

  initial begin
    if (!$value$plusargs("weights=%s", weights_file) || !$value$plusargs("stimulus=%s", stimulus_file)
        || !$value$plusargs("expected=%s", expected_file) || !$value$plusargs("count=%d", count)) begin
      $display("BULK ERROR: need +weights= +stimulus= +expected= +count=");
      $finish;
    end
    $readmemh(weights_file, image);
    for (int j = 0; j < ImageBytes; j++) weights[j*8 +: 8] = image[j];
    if (count > MaxModules) begin
      $display("BULK ERROR: %0d modules, the testbench was built for at most %0d", count, MaxModules);
      $finish;
    end
    $readmemh(stimulus_file, stimulus, 0, count - 1);
    $readmemh(expected_file, expected, 0, count - 1);
    tc = '0;
    elinks = ModeBits'(stimulus[0][NumTc*TcBits +: ModeBits]);
    repeat (3) @(posedge clk);
    rst_n = 1'b1;
    @(posedge clk);
    for (int k = 0; k < count; k++) begin
      tc       <= stimulus[k][NumTc*TcBits-1:0];
      tc_valid <= 1'b1;
      @(posedge clk);
      sent++;
      if (II > 1) begin
        tc_valid <= 1'b0;
        repeat (II - 1) @(posedge clk);
      end
    end
    tc_valid <= 1'b0;
    repeat (Latency + 2) @(posedge clk);
    $display("BULK modules=%0d checked=%0d mismatches=%0d", sent, checked, mismatches);
    $finish;
  end

  always @(posedge clk) begin
    if (rst_n && valid) begin
      if (checked >= longint'(count) || {sum, out} != expected[checked]) begin
        if (mismatches < 5) $display("BULK MISMATCH at module %0d", checked);
        mismatches++;
      end
      checked++;
    end
  end
endmodule
