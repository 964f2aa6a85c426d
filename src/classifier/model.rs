//! The classifier network: one enum over the architectures, built from a [`ClassifierConfig`].

use super::config::{Arch, ClassifierConfig, Reduction};
use super::conv_bn::BnSettings;
use super::mobilenetv3::{MobileNetV3, MobileNetV3Config, Variant};
use super::resnet::{ResNet, ResNetConfig};
use burn::module::Module;
use burn::tensor::{backend::Backend, Tensor};

// Built once per network; boxing a variant would hide it from burn's Module derive.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum ClassifierNet<B: Backend> {
    MobileNetV3(MobileNetV3<B>),
    ResNet(ResNet<B>),
}

impl<B: Backend> ClassifierNet<B> {
    /// A freshly initialised network for `cfg` with `num_classes` outputs (seed the backend first
    /// with `B::seed` for a reproducible initialisation).
    pub fn new(cfg: &ClassifierConfig, num_classes: usize, device: &B::Device) -> Self {
        let [c, p, t] = cfg.input_shape();
        let bn = BnSettings {
            momentum: cfg.bn_momentum,
            epsilon: cfg.bn_epsilon,
        };
        let factorized = cfg.reduction == Reduction::Factorized;
        match cfg.arch {
            Arch::MobileNetV3Small | Arch::MobileNetV3Large => {
                ClassifierNet::MobileNetV3(MobileNetV3::new(
                    &MobileNetV3Config {
                        variant: if cfg.arch == Arch::MobileNetV3Small {
                            Variant::Small
                        } else {
                            Variant::Large
                        },
                        width: cfg.width,
                        in_channels: c,
                        num_classes,
                        input: [p, t],
                        min_time: cfg.min_time,
                        min_rows: cfg.min_rows,
                        factorized,
                        dropout: cfg.dropout,
                        bn,
                    },
                    device,
                ))
            }
            Arch::ResNet => ClassifierNet::ResNet(ResNet::new(
                &ResNetConfig {
                    width: cfg.width,
                    in_channels: c,
                    num_classes,
                    input: [p, t],
                    min_time: cfg.min_time,
                    min_rows: cfg.min_rows,
                    factorized,
                    dropout: cfg.dropout,
                    bn,
                },
                device,
            )),
        }
    }

    /// `[N, C, P, T]` piano rolls → `[N, K]` logits.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 2> {
        match self {
            ClassifierNet::MobileNetV3(m) => m.forward(x),
            ClassifierNet::ResNet(m) => m.forward(x),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;

    type B = NdArray<f32>;

    #[test]
    fn every_arch_gives_logits() {
        let dev = Default::default();
        for name in super::super::config::ARCH_NAMES {
            let (a, r) = Arch::parse(name).unwrap();
            let mut cfg = ClassifierConfig::new(a, r, 2);
            cfg.width = 0.35;
            let net = ClassifierNet::<B>::new(&cfg, 3, &dev);
            let x = Tensor::<B, 4>::zeros([2, 2, 88, 32], &dev);
            assert_eq!(net.forward(x).dims(), [2, 3], "{name}");
        }
    }

    /// The 9-row drum roll through every network, with the drum preset's row floor (4) and with
    /// the melody rule (rows down to 1), for 2 and 16 bars.
    #[test]
    fn every_arch_reads_a_drum_roll() {
        let dev = Default::default();
        for name in super::super::config::ARCH_NAMES {
            let (a, r) = Arch::parse(name).unwrap();
            for (bars, min_rows) in [(2, 4), (2, 1), (16, 4)] {
                let mut cfg = ClassifierConfig::new_drums(a, r, bars);
                cfg.width = 0.35;
                cfg.min_rows = min_rows;
                assert_eq!(cfg.input_shape(), [1, 9, 16 * bars]);
                let net = ClassifierNet::<B>::new(&cfg, 4, &dev);
                let x = Tensor::<B, 4>::ones([2, 1, 9, 16 * bars], &dev);
                let y = net.forward(x); // [2, 4]
                assert_eq!(y.dims(), [2, 4], "{name} {bars} bars min_rows {min_rows}");
                let v: Vec<f32> = y.into_data().convert::<f32>().to_vec().unwrap();
                assert!(v.iter().all(|x| x.is_finite()), "{name}");
            }
        }
    }
}
