# Small deterministic Perl workload for the model's regression gate (PERL_HASH_SEED=0 PERL_PERTURB_KEYS=0).
use strict; use warnings;
my %h;
for my $i (1 .. 3000) { $h{"key$i"} = [ map { $_ * $i } 1 .. ($i % 17) ]; }
my @keys = sort keys %h;
my $s = join(",", map { scalar @{ $h{$_} } } @keys);
delete $h{$_} for grep { /7/ } @keys;
print scalar(keys %h), " ", length($s), "\n";
