"""The package's tests: a package, so test modules share helpers by relative
import under either pytest import mode."""
