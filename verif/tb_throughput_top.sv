// Top level of the throughput testbench (verif/tb_throughput.py): the datapath ae_core with
// its weights and e-link mode loaded at time 0 from plusargs, so that cocotb touches only
// the streaming ports. Only those ports are public to VPI: Verilator re-evaluates logic
// that depends on a VPI-writable signal on every eval, and with writable weights that
// is the whole multiplier array, on every clock edge.
//   +weights=FILE   weight image, one hex byte per line ($readmemh)
//   +elinks=N       e-link mode
// Widths are parameters; every build passes the design's (verif/params.py).
module tb_throughput_top #(
  parameter int unsigned NumTc      = 1,
  parameter int unsigned TcBits     = 1,
  parameter int unsigned ImageBytes = 1,
  parameter int unsigned ImageBits  = 1,
  parameter int unsigned SumBits    = 1,
  parameter int unsigned Units      = 1,
  parameter int unsigned OutBits    = 1,
  parameter int unsigned ModeBits   = 1
) (
  input  logic                     clk       /*verilator public_flat_rw*/,
  input  logic                     rst_n     /*verilator public_flat_rw*/,
  input  logic [NumTc*TcBits-1:0]  tc_in     /*verilator public_flat_rw*/,
  input  logic                     tc_valid  /*verilator public_flat_rw*/,
  output logic [SumBits-1:0]       ae_sum    /*verilator public_flat_rd*/,
  output logic [Units*OutBits-1:0] ae_out    /*verilator public_flat_rd*/,
  output logic                     ae_valid  /*verilator public_flat_rd*/,
  // {ae_valid, ae_sum, ae_out} in one signal: the monitor reads once per clock
  output logic [SumBits+Units*OutBits:0] sample /*verilator public_flat_rd*/
);
  logic [7:0]              image [ImageBytes];
  logic [ImageBytes*8-1:0] image_bits;
  logic [ImageBits-1:0]    weights;
  logic [ModeBits-1:0]  elinks;
  string                weights_file;
  int                   mode;

  initial begin
    if (!$value$plusargs("weights=%s", weights_file) || !$value$plusargs("elinks=%d", mode)) begin
      $display("THROUGHPUT ERROR: need +weights= and +elinks=");
      $finish;
    end
    $readmemh(weights_file, image);
    for (int j = 0; j < ImageBytes; j++) image_bits[j*8 +: 8] = image[j];
    weights = image_bits[ImageBits-1:0];
    elinks = ModeBits'(mode);
  end

  ae_core u_core (
    .clk_i(clk), .rst_ni(rst_n), .tc_i(tc_in), .tc_valid_i(tc_valid), .weights_i(weights),
    .elinks_i(elinks), .enable_i(1'b1), .sum_o(ae_sum), .out_o(ae_out), .valid_o(ae_valid)
  );
  assign sample = {ae_valid, ae_sum, ae_out};
endmodule
